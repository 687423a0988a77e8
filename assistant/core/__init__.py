"""Pure policy: end-pointing, clauses, routing, dialog state, intents, memory, latency.

No asyncio, audio device or model library is imported here (a test checks the layering).
"""
