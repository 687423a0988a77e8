"""Sound devices, the ALSA log bridge, voice activity and the wake word."""
