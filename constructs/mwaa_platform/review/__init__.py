"""A security review generated from synthesized templates, for reviewers who do not read Python.

``python -m mwaa_platform.review cdk.out --out docs/review`` writes one Markdown page per stack of a
cloud assembly: every IAM role (trust, then actions by resource), the policies that grant to
another account or service, every security group rule, any public exposure, the encryption of each
data store, the DAG paths of each environment (with a Mermaid diagram) and every acknowledged
finding with its reason. It reads the assembly's files only, so it works on any CDK app's output;
``review_diff`` compares two assemblies' reviews (``make review-diff BASE=<ref>``).
"""

from mwaa_platform.review.pages import INDEX, render_review, review_diff, stale_pages, write_review

__all__ = ["INDEX", "render_review", "review_diff", "stale_pages", "write_review"]
