import { Label } from "@patternfly/react-core";

const COLORS: Record<string, "green" | "red" | "orange" | "blue" | "grey"> = {
  Success: "green",
  Online: "green",
  ok: "green",
  Failed: "red",
  Offline: "red",
  down: "red",
  PartialSuccess: "orange",
  Aborted: "orange",
  degraded: "orange",
  InProgress: "blue",
  Pending: "blue",
};

export function StatusLabel({ status }: { status: string }) {
  return <Label color={COLORS[status] ?? "grey"}>{status}</Label>;
}
