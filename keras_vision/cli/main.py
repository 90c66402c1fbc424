def main(argv=None):
    raise SystemExit("keras-vision: CLI not built yet")
