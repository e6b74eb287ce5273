import { PageSection, Progress, Title } from "@patternfly/react-core";
import { Link, useParams } from "react-router-dom";
import { useRestore } from "../api/hooks";
import { QueryView } from "../components/states";
import { StatusLabel } from "../components/StatusLabel";
import { isFinal, when } from "../format";
import { Details } from "./ClusterDetail";
import { Results } from "./results";

export function RestoreDetail() {
  const { uid = "" } = useParams();
  const restore = useRestore(uid);
  return (
    <PageSection>
      <QueryView query={restore} what="the restore">
        {(r) => (
          <>
            <Title headingLevel="h1">{r.name}</Title>
            <Progress
              value={isFinal(r.status) ? 100 : 0}
              title={isFinal(r.status) ? r.status : `Stage: ${r.stage || "starting"}`}
              variant={r.status === "Failed" ? "danger" : r.status === "Success" ? "success" : undefined}
              aria-label="Restore progress"
            />
            <Details
              items={[
                ["Status", <StatusLabel key="s" status={r.status} />],
                ["Stage", r.stage || "-"],
                ["Reason", r.reason || "-"],
                ["Backup", <Link key="b" to={`/backups/${r.backup_uid}`}>{r.backup_uid}</Link>],
                ["Target cluster", <Link key="c" to={`/clusters/${r.cluster_uid}`}>{r.cluster_uid}</Link>],
                ["Owner", r.owner],
                ["Started", when(r.started_at)],
                ["Finished", when(r.finished_at)],
              ]}
            />
            <Results resources={r.resources} volumes={r.volumes} />
          </>
        )}
      </QueryView>
    </PageSection>
  );
}
