"""LLM generation: one generator interface (generate a batch of chat requests) with a vLLM
backend (an OpenAI-compatible server, in its own environment) and an in-process transformers one."""
