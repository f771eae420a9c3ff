"""Internals of mwaa_platform: ARN builders, botocore service-model readers, the custom-resource
handler factory and the handlers themselves. Nothing here is public API; it may change in any
release. Import public names from ``mwaa_platform`` or its capability subpackages."""

__all__: list[str] = []
