"""The application ``spark-submit`` runs for ``registry score`` on a cluster: this file, with the same arguments.

    spark-submit --packages ... --conf ... $(python -c 'import registry.cli.submit as m; print(m.__file__)') \
        com.acme:churn:latest.release --input ... --output ...

It uses the session spark-submit started, so ``--packages``, ``--conf`` and the master work as usual.
"""

from __future__ import annotations

if __name__ == "__main__":
    import sys
    from pathlib import Path

    # Python put this file's directory first on sys.path; its modules (run, cards, ...) must not shadow others.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != here]
    from registry.cli import main

    main(["score", *sys.argv[1:]])
