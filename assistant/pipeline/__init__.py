"""The pipeline that joins the core to the adapters: the listener, the turn and its stages."""
