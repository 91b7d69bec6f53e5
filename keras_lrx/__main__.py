"""Command line: `python -m keras_lrx demo [--backend B] [--out DIR]`."""

import argparse
import os
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m keras_lrx")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="fine-tune on scikit-learn's digits with per-layer rates"
    )
    demo.add_argument(
        "--backend",
        choices=["tensorflow", "jax", "torch"],
        help="Keras backend (default: KERAS_BACKEND or Keras's default)",
    )
    demo.add_argument("--out", default="keras_lrx_demo", help="output folder")
    demo.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)

    # The backend is fixed when Keras is first imported: choose it first.
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    if args.backend and keras.backend.backend() != args.backend:
        # Keras was imported before we could choose: start again.
        os.execv(
            sys.executable, [sys.executable, "-m", "keras_lrx", *sys.argv[1:]]
        )

    from keras_lrx import demo as demo_module

    demo_module.run(out=args.out, verbose=0 if args.quiet else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
