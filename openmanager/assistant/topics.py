"""What the assistant can look at: one table of topics, each a PromQL template with its judgement.

A topic's expression keeps `server` (and `mountpoint` for disks) so one query covers many
servers; `SEL` is replaced by the label matchers of the servers asked about. A value is abnormal
above the topic's alert threshold (the default rule pack's) or at `ratio` times its baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVER_LABEL = "server"


@dataclass(frozen=True)
class Topic:
    """One thing to measure on a server, how to read it and when it is abnormal."""

    name: str
    expr: str
    unit: str  # ratio | seconds | bytes_per_second | up
    kind: str  # resource (can be a cause) | symptom (what users feel)
    words: tuple[str, ...]
    label_en: str
    label_ko: str
    threshold: float | None = None
    ratio: float | None = None
    alerts: tuple[str, ...] = ()
    runbook_query: str = ""

    def promql(self, selector: str) -> str:
        """The expression restricted by `selector` (label matchers without braces)."""
        return self.expr.replace("SEL", selector)

    def abnormal(self, value: float, baseline: float | None) -> float:
        """How far past normal (> 1 is abnormal, as alert rules compare with `>`; 0 when fine)."""
        if self.unit == "up":
            return 2.0 if value < 0.5 else 0.0
        if self.ratio is not None and baseline is not None and baseline > 0:
            # a server whose usual level is past the threshold is abnormal only when it moved
            rise = value / baseline
            usual = self.threshold is not None and baseline >= self.threshold
            past = value / self.threshold if self.threshold and (not usual or rise >= 1.2) else 0.0
            return max(rise / self.ratio, past)
        return value / self.threshold if self.threshold is not None else 0.0


TOPICS: tuple[Topic, ...] = (
    Topic("service", "min by (server) (openmanager_service_up{SEL})", "up", "resource",
          ("down", "crash", "crashed", "restart", "alive", "다운", "죽", "중단", "장애", "재시작", "크래시"),
          "service", "서비스", alerts=("ServiceDown",), runbook_query="service down crash restart ServiceDown"),
    Topic("disk", "1 - sum by (server, mountpoint) (node_filesystem_avail_bytes{SEL}) / "
          "sum by (server, mountpoint) (node_filesystem_size_bytes{SEL})", "ratio", "resource",
          ("disk", "filesystem", "space", "full", "storage", "volume", "디스크", "용량", "저장", "파일시스템"),
          "disk usage", "디스크 사용률", threshold=0.85, alerts=("HighDiskUsage", "DiskFullIn4Hours"),
          runbook_query="disk filling up filesystem full disk_full HighDiskUsage"),
    Topic("memory", "1 - sum by (server) (node_memory_MemAvailable_bytes{SEL}) / "
          "sum by (server) (node_memory_MemTotal_bytes{SEL})", "ratio", "resource",
          ("memory", "mem", "ram", "leak", "oom", "메모리", "누수", "램"),
          "memory usage", "메모리 사용률", threshold=0.90, ratio=1.25, alerts=("HighMemory", "CriticalMemory"),
          runbook_query="memory leak pressure memory_leak HighMemory"),
    Topic("network", "sum by (server) (rate(node_network_receive_bytes_total{SEL}[5m]))",
          "bytes_per_second", "resource",
          ("network", "traffic", "bandwidth", "congestion", "packet", "네트워크", "트래픽", "대역폭", "혼잡"),
          "inbound traffic", "수신 트래픽", ratio=3.0,
          runbook_query="network congestion inbound traffic network_congestion"),
    Topic("cpu", '1 - avg by (server) (rate(node_cpu_seconds_total{mode="idle",SEL}[5m]))',
          "ratio", "resource",
          ("cpu", "processor", "load", "busy", "씨피유", "프로세서", "부하"),
          "CPU utilisation", "CPU 사용률", threshold=0.85, alerts=("HighCPU", "CriticalCPU"),
          runbook_query="cpu saturation spike runaway process cpu_spike HighCPU"),
    Topic("latency", "histogram_quantile(0.95, sum by (server, le) "
          "(rate(http_request_duration_seconds_bucket{SEL}[5m])))", "seconds", "symptom",
          ("slow", "latency", "response", "sluggish", "lag", "timeout", "느리", "느려", "지연", "응답", "속도", "늦"),
          "response time (p95)", "응답 시간(p95)", threshold=1.0, ratio=2.0, alerts=("SlowResponses",),
          runbook_query="slow responses latency SlowResponses dependency"),
    Topic("errors", 'sum by (server) (rate(http_requests_total{status=~"5..",SEL}[5m])) / '
          "sum by (server) (rate(http_requests_total{SEL}[5m]))", "ratio", "symptom",
          ("error", "errors", "5xx", "500", "fail", "failing", "에러", "오류", "실패"),
          "5xx error ratio", "5xx 오류 비율", threshold=0.05, alerts=("HighErrorRatio",),
          runbook_query="errors 5xx error ratio HighErrorRatio service crash"),
)  # fmt: skip

BY_NAME = {t.name: t for t in TOPICS}


def topic_of_alert(alertname: str) -> Topic | None:
    """The topic a default-rule alert is about."""
    return next((t for t in TOPICS if alertname in t.alerts), None)


def selector(servers: list[str] | None) -> str:
    """Label matchers for these servers (all servers with a `server` label when None)."""
    if servers is None:
        return f'{SERVER_LABEL}!=""'
    if len(servers) == 1:
        return f'{SERVER_LABEL}="{servers[0]}"'
    return f'{SERVER_LABEL}=~"{"|".join(sorted(servers))}"'
