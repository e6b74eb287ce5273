// Small pure helpers for what lists and details show.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(count: number): string {
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "-";
}

/** One page of `items` (1-based `page`), and the page actually shown when `page` is past the end. */
export function pageOf<T>(items: T[], page: number, perPage: number): { rows: T[]; page: number } {
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const shown = Math.min(Math.max(1, page), last);
  return { rows: items.slice((shown - 1) * perPage, shown * perPage), page: shown };
}

// A backup or restore in one of these is still running; any other status is its last.
const ACTIVE_STATUSES = new Set(["Pending", "InProgress"]);

export function isFinal(status: string): boolean {
  return !ACTIVE_STATUSES.has(status);
}

/** The progress bar's percentage: from bytes moved when known, else 100 once final. */
export function percentDone(status: string, progress: { bytes_done?: number; bytes_total?: number } | null | undefined): number {
  if (isFinal(status)) return 100;
  const total = progress?.bytes_total ?? 0;
  if (total <= 0) return 0;
  return Math.min(100, Math.round((100 * (progress?.bytes_done ?? 0)) / total));
}

/** `a=b, c=d` as a mapping; throws naming the entry that is not `from=to`. */
export function parseMapping(text: string): Record<string, string> {
  const mapping: Record<string, string> = {};
  for (const entry of text.split(",").map((e) => e.trim()).filter(Boolean)) {
    const [from, to, ...rest] = entry.split("=").map((p) => p.trim());
    if (!from || !to || rest.length > 0) throw new Error(`"${entry}" is not from=to`);
    mapping[from] = to;
  }
  return mapping;
}

/** `a, b,` as `["a", "b"]`. */
export function splitList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}
