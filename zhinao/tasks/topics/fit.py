"""Trains one fastText supervised model in its own process (see classifier.train for why):
python -m zhinao.tasks.topics.fit TRAIN_FILE OUT_MODEL CONFIG_JSON"""
import json
import sys


def fit(path: str, out: str, cfg: dict) -> None:
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None
    model = fasttext.train_supervised(path, epoch=cfg["epoch"], lr=cfg["lr"], dim=cfg["dim"],
                                      wordNgrams=cfg["word_ngrams"], minCount=cfg["min_count"], bucket=cfg["bucket"],
                                      loss=cfg["loss"], seed=cfg["seed"], thread=1, verbose=0)
    if cfg["quantize"]:
        model.quantize(input=path, qnorm=True, retrain=False, cutoff=cfg["quantize_cutoff"])
    model.save_model(out)


if __name__ == "__main__":
    fit(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
