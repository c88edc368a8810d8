"""Undeclared charsets: a wrong single-byte guess must not beat a near-clean decode in a common
encoding (a GB2312 page with two bad byte sequences read as Cyrillic or Latin garbage)."""
import random

import pyarrow as pa
import pytest

from zhinao.tasks.ingest.stage import INGEST, IngestParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.corpus.warcfile import gz_member, http_response, warc_record
from zhinao.tasks.ingest.charset import decode_html
from zhinao.tasks.ingest.documents import SCHEMA
from zhinao.tasks.home import open_store

ZH = ["北京市教育委员会今天发布通知，要求各区中小学校在新学期开始前完成校舍安全检查，并向社会公布检查结果。",
      "通知指出，学校应当建立健全安全管理制度，落实安全责任，定期开展消防和地震应急演练，确保师生安全。",
      "专家表示，近年来我国基础教育投入持续增加，农村学校办学条件明显改善，但城乡之间的差距仍然存在。",
      "记者了解到，今年全市将新建和改扩建学校三十所，增加学位两万个，以缓解部分地区的入学压力。",
      "家长们普遍关心孩子的课业负担问题。有关部门表示，将继续推进减负工作，提高课堂教学质量。",
      "与此同时，市里还将加强教师队伍建设，通过公开招聘、交流轮岗等方式，把优秀教师派到薄弱学校。",
      "一位在郊区任教二十多年的老师说，这几年学校新修了操场和图书馆，孩子们读书的环境越来越好了。",
      "据统计，去年全市共有中小学生一百二十万人，其中外地来京务工人员随迁子女约占三分之一。"]
NAV = ["首页", "新闻", "财经", "教育", "体育", "科技", "健康", "旅游"]
BIG5 = ["臺北市政府今日宣布，將於明年起全面推動公共運輸優惠方案，鼓勵市民搭乘捷運與公車。",
        "市長表示，這項政策希望減少交通壅塞與空氣污染，同時減輕通勤族的經濟負擔。",
        "交通局指出，目前每日搭乘捷運的旅客已超過兩百萬人次，未來將持續增加班次並改善轉乘設施。",
        "部分議員則關心財政負擔，要求市府提出詳細的經費規劃與評估報告，並定期向議會說明執行進度。"]
JA = ["東京都は本日、来年度から公共交通機関の利用を促進するための新しい割引制度を導入すると発表しました。",
      "知事は記者会見で、交通渋滞と大気汚染を減らし、通勤者の経済的な負担を軽くすることが目的だと説明しました。",
      "交通局によると、現在一日あたりの地下鉄の利用者は八百万人を超えており、今後も運行本数を増やす予定です。"]
KO = ["서울시는 오늘 내년부터 대중교통 이용을 장려하기 위한 새로운 할인 제도를 도입한다고 발표했습니다.",
      "시장은 기자회견에서 교통 체증과 대기 오염을 줄이고 통근자의 경제적 부담을 덜어 주는 것이 목적이라고 설명했습니다.",
      "교통국에 따르면 현재 하루 지하철 이용객은 칠백만 명을 넘었으며 앞으로도 운행 횟수를 늘릴 계획입니다."]
FR = ["La ville a annoncé aujourd’hui qu’elle mettra en place dès l’année prochaine une réduction pour les transports.",
      "Le maire a expliqué que cette mesure vise à réduire les embouteillages et la pollution de l’air.",
      "« Nous voulons que chacun puisse se déplacer à moindre coût », a-t-il déclaré devant le conseil municipal.",
      "Die Stadtverwaltung kündigte außerdem ermäßigte Fahrkarten an; einige Stadträte äußerten Bedenken."]
RU = ["Городские власти сообщили сегодня, что со следующего года будет введена новая система скидок на проезд.",
      "По словам мэра, эта мера поможет уменьшить пробки и загрязнение воздуха, а также снизит расходы жителей."]
TH = ["กรุงเทพมหานครประกาศว่าจะเริ่มใช้ระบบส่วนลดค่าโดยสารใหม่ตั้งแต่ปีหน้า เพื่อลดปัญหาการจราจรติดขัดและมลพิษทางอากาศ",
      "ผู้ว่าราชการกล่าวว่ามาตรการนี้จะช่วยลดภาระค่าใช้จ่ายของประชาชนที่เดินทางไปทำงานทุกวัน"]
STYLE = ("<style>body{font-family:Arial,Helvetica,sans-serif;margin:0;padding:0;color:#222}"
         ".nav a{color:#333;text-decoration:none;margin:0 8px}.footer{font-size:12px;color:#999}</style>\n")
SCRIPT = ("<script type=\"text/javascript\">var _hmt = _hmt || [];"
          " (function() { var hm = document.createElement('script'); hm.src = 'https://stats.example.com/hm.js?a1b2c3'; var s = document.getElementsByTagName('script')[0];"
          " s.parentNode.insertBefore(hm, s); })();</script>\n")


def page(paras, nav=(), scripts=1, repeat=3) -> str:
    """A news page of a few KB with no charset anywhere; more `scripts` and fewer `repeat`s of the
    text make more of it ASCII markup."""
    links = "".join(f'<a href="/section/{i}/index.html">{n}</a>' for i, n in enumerate(nav))
    body = "".join(f"<p>{paras[(i + k) % len(paras)]}{paras[(i + 2 * k + 1) % len(paras)]}</p>\n"
                   for k in range(repeat) for i in range(len(paras)))
    return (f"<!DOCTYPE html>\n<html>\n<head>\n<title>{paras[0][:12]}</title>\n{(STYLE + SCRIPT) * scripts}</head>\n"
            f'<body>\n<div class="nav">{links}</div>\n{body}<div class="footer">Copyright 2009 example.com</div>\n'
            "</body>\n</html>\n")


def damage(body: bytes, first: bytes = b"\xa1\x20", second: bytes = b"\xff\xff") -> bytes:
    """Two invalid byte sequences, a third and two thirds into the page, between characters."""
    at1, at2 = body.find(b"<p>", len(body) // 3) + 3, body.find(b"<p>", 2 * len(body) // 3) + 3
    return body[:at1] + first + body[at1:at2] + second + body[at2:]


# Before weighing, with charset-normalizer 3.5: mostly text -> no guess, read as UTF-8 with 57%
# replaced and dropped as undecodable; mostly markup -> guessed iso8859-5 and kept as Cyrillic garbage
@pytest.mark.parametrize("scripts, repeat", [(1, 3), (12, 1)])
@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=gb2312"])
def test_gb2312_page_with_two_bad_sequences_is_read_as_gb18030(scripts, repeat, content_type):
    html = page(ZH, NAV, scripts, repeat)
    body = damage(html.encode("gb2312"))
    assert 2 << 10 < len(body) < 16 << 10
    d = decode_html(body, content_type)
    assert (d.charset, d.method) == ("gb18030", "weighed")
    assert 0 < d.bad_ratio < 0.001 and d.confidence > 0.9
    for para in ZH + NAV:
        assert para in d.text


CJK = [(BIG5, "big5", "big5hkscs"), (JA, "shift_jis", "cp932"), (KO, "euc_kr", "cp949")]


@pytest.mark.parametrize("paras, encoding, codec", CJK + [(FR, "cp1252", "cp1252")])
def test_undeclared_pages_in_common_encodings_decode_right(paras, encoding, codec):
    html = page(paras)
    d = decode_html(html.encode(encoding), "text/html")
    assert d.charset == codec and d.text == html and d.bad_ratio == 0 and d.confidence > 0.9


@pytest.mark.parametrize("paras, encoding, codec", CJK)
def test_cjk_pages_with_bad_sequences_keep_their_encoding(paras, encoding, codec):
    # over the CJK neighbours too: Korean read as GB18030 is common Han without one bad byte
    d = decode_html(damage(page(paras).encode(encoding)), "text/html")
    assert d.charset == codec and d.bad_ratio < 0.002 and d.confidence > 0.9
    assert all(p in d.text for p in paras)


@pytest.mark.parametrize("paras, encoding", [(RU, "cp1251"), (TH, "cp874")])
def test_a_plausible_guess_in_another_encoding_is_kept(paras, encoding):
    html = page(paras)
    d = decode_html(html.encode(encoding), "text/html")
    assert d.method == "guess" and d.text == html


def test_utf8_stays_utf8():
    html = page(ZH, NAV)
    d = decode_html(html.encode("utf-8"), "text/html")
    assert (d.charset, d.method, d.bad_ratio, d.confidence) == ("utf-8", "utf-8", 0.0, 1.0)
    # one stray byte: still UTF-8 with one replaced character, not UTF-8 read as GBK (浣犲ソ)
    d = decode_html(damage(html.encode("utf-8"), b"\xff", b""), "text/html")
    assert d.charset == "utf-8" and d.text.count("\ufffd") == 1 and all(p in d.text for p in ZH)


def test_undecodable_bytes_stay_undecodable():
    rng = random.Random(0)
    junk = bytes(rng.getrandbits(8) for _ in range(4000))
    for ctype in ("text/html; charset=utf-8", "text/html", "text/html; charset=base64"):
        d = decode_html(b"<html><p>" + junk + b"</p></html>", ctype)
        assert d.bad_ratio > 0.01 and d.confidence < 0.9, ctype


def test_ingest_output_has_charset_confidence(tmp_path):
    rng = random.Random(5)
    pages = [(damage(page(ZH, NAV).encode("gb2312")), "text/html"),
             (page(FR).encode("utf-8"), "text/html; charset=utf-8")]
    path = tmp_path / "c.warc.gz"
    path.write_bytes(b"".join(gz_member(warc_record(rng, "response", "2026-01-01T00:00:00Z", http_response(body, ct),
                                                    f"http://cs.example.com/{i}"))
                              for i, (body, ct) in enumerate(pages)))
    r = execute_stage(INGEST, IngestParams(sources=[str(path)], use_ray=False))
    assert r.rows == 2 and r.stats["histograms"]["charset"] == {"gb18030/weighed": 1, "utf-8/header": 1}
    table = open_store().open_arrow(r.ref)
    assert table.schema.field("charset_confidence").type == pa.float32() == SCHEMA.field("charset_confidence").type
    docs = {d["url"]: d for d in table.to_pylist()}
    assert docs["http://cs.example.com/1"]["charset_confidence"] == 1.0
    assert 0.9 < docs["http://cs.example.com/0"]["charset_confidence"] < 1.0
