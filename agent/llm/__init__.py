"""The LLM as the agent sees it: one interface (messages + output schema -> validated object),
its vLLM client and a scripted fake, the output models and their schema enums, the output
token budget, prompt running, and the one-pass ranking preference."""
