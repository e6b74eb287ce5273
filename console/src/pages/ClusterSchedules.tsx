// The backup schedules of one cluster: suspend, resume, run now, delete (where access allows;
// the API refuses the rest with its reason, shown here).
import { Button, Flex } from "@patternfly/react-core";
import { ownsOrManages, type Profile } from "../access";
import { api, unwrap } from "../api/client";
import { useApiMutation, useSchedules } from "../api/hooks";
import { ConfirmDelete } from "../components/ConfirmDelete";
import { PagedTable } from "../components/PagedTable";
import { ErrorAlert, QueryView } from "../components/states";
import { StatusLabel } from "../components/StatusLabel";
import { when } from "../format";

type Verb = "suspend" | "resume" | "run-now";

export function ClusterSchedules({ profile, cluster }: { profile: Profile; cluster: string }) {
  const schedules = useSchedules();
  const keys = [["backup-schedules"], ["backups"]];
  const act = useApiMutation(({ uid, verb }: { uid: string; verb: Verb }): Promise<unknown> => {
    const path = { params: { path: { uid } } };
    if (verb === "suspend") return unwrap(api.POST("/api/v1/backup-schedules/{uid}/suspend", path));
    if (verb === "resume") return unwrap(api.POST("/api/v1/backup-schedules/{uid}/resume", path));
    return unwrap(api.POST("/api/v1/backup-schedules/{uid}/run-now", path));
  }, keys);
  const remove = useApiMutation(
    // The schedule only: the backups it made stay until their own deletion.
    (uid: string) => unwrap(api.DELETE("/api/v1/backup-schedules/{uid}", { params: { path: { uid }, query: { backups: "keep" } } })),
    keys,
  );
  return (
    <>
      {act.error ? <ErrorAlert error={act.error} title="Refused" /> : null}
      <QueryView query={schedules} what="backup schedules">
        {(list) => (
          <PagedTable
            label="Backup schedules"
            rows={list.items.filter((s) => s.cluster_uid === cluster)}
            rowKey={(s) => s.uid}
            empty="No backup schedules on this cluster"
            columns={[
              { title: "Name", cell: (s) => s.name },
              { title: "Status", cell: (s) => <StatusLabel status={s.suspended ? "Suspended" : (s.status ?? "-")} /> },
              { title: "Last backup", cell: (s) => when(s.last_backup_at) },
              { title: "Next run", cell: (s) => when(s.next_runs?.[0]) },
              { title: "Owner", cell: (s) => s.owner },
            ]}
            actions={(s) =>
              ownsOrManages(profile, s.owner_id) ? (
                <Flex flexWrap={{ default: "nowrap" }}>
                  <Button variant="secondary" size="sm" onClick={() => act.mutate({ uid: s.uid, verb: s.suspended ? "resume" : "suspend" })}>
                    {s.suspended ? "Resume" : "Suspend"}
                  </Button>
                  <Button variant="secondary" size="sm" onClick={() => act.mutate({ uid: s.uid, verb: "run-now" })}>
                    Run now
                  </Button>
                  <ConfirmDelete what={`schedule ${s.name} (its backups stay)`} onConfirm={() => remove.mutateAsync(s.uid)} />
                </Flex>
              ) : null
            }
          />
        )}
      </QueryView>
    </>
  );
}
