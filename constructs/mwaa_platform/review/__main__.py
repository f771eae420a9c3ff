"""``python -m mwaa_platform.review CDK_OUT [--out DIR]``: write the security review of a cloud assembly.

``--check``: write nothing; exit 1 naming the pages of ``--out`` that differ (a stale committed review).
``--base BASE_CDK_OUT``: print the review's change from the assembly ``BASE_CDK_OUT`` to ``CDK_OUT``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from mwaa_platform.errors import MwaaPlatformError
from mwaa_platform.review.pages import review_diff, stale_pages, write_review


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mwaa_platform.review", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assembly", type=Path, help="the cloud assembly directory (cdk.out)")
    parser.add_argument("--out", type=Path, default=Path("review"), help="where the pages go (default: review/)")
    parser.add_argument("--check", action="store_true", help="only report pages of --out that are stale")
    parser.add_argument("--base", type=Path, help="print the review's diff from this assembly to ASSEMBLY")
    args = parser.parse_args(argv)
    try:
        if args.base is not None:
            sys.stdout.write(review_diff(args.base, args.assembly) or "The review did not change.\n")
            return 0
        if args.check:
            stale = stale_pages(args.assembly, args.out)
            for name in stale:
                print(f"stale: {args.out / name}", file=sys.stderr)
            return 1 if stale else 0
        pages = write_review(args.assembly, args.out)
    except MwaaPlatformError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Security review: {len(pages)} pages in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
