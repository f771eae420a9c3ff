"""The CPU and memory combinations AWS Fargate accepts (Amazon ECS developer guide, "Task CPU and memory").

ECS and AWS Batch on Fargate share the table: a task or job with another combination is rejected
when it starts, long after deployment, so the constructs refuse it at synthesis.
"""

from __future__ import annotations

from mwaa_platform.errors import MwaaPlatformError, shorten

__all__ = ["FARGATE_MEMORY_BY_CPU", "check_fargate_size"]


def _steps(low: int, high: int, step: int) -> tuple[int, ...]:
    return tuple(range(low, high + 1, step))


#: CPU units -> the memory sizes (MiB) Fargate accepts with it.
FARGATE_MEMORY_BY_CPU: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _steps(1024, 4096, 1024),
    1024: _steps(2048, 8192, 1024),
    2048: _steps(4096, 16384, 1024),
    4096: _steps(8192, 30720, 1024),
    8192: _steps(16384, 61440, 4096),
    16384: _steps(32768, 122880, 8192),
}


def check_fargate_size(cpu: int, memory_mib: int, *, what: str = "task") -> None:
    """Raise unless Fargate runs a ``what`` of ``cpu`` units and ``memory_mib``."""
    if cpu not in FARGATE_MEMORY_BY_CPU:
        raise MwaaPlatformError(
            f"cpu must be one of {', '.join(map(str, FARGATE_MEMORY_BY_CPU))} CPU units for a Fargate {what}, "
            f"got {shorten(cpu)}"
        )
    allowed = FARGATE_MEMORY_BY_CPU[cpu]
    if memory_mib not in allowed:
        ranges = f"{allowed[0]}-{allowed[-1]} in steps of {allowed[1] - allowed[0]}" if len(allowed) > 3 else \
            ", ".join(map(str, allowed))
        raise MwaaPlatformError(
            f"memory_mib must be {ranges} MiB with {cpu} CPU units for a Fargate {what}, got {shorten(memory_mib)}"
        )
