import { Button, Flex, PageSection, Progress, Title } from "@patternfly/react-core";
import { Link, useNavigate, useParams } from "react-router-dom";
import { type Profile } from "../access";
import { api, unwrap } from "../api/client";
import { useApiMutation, useBackup, useCluster } from "../api/hooks";
import { ConfirmDelete } from "../components/ConfirmDelete";
import { LinkButton } from "../components/LinkButton";
import { ShareDialog } from "../components/ShareDialog";
import { ErrorAlert, QueryView } from "../components/states";
import { StatusLabel } from "../components/StatusLabel";
import { bytes, isFinal, percentDone, when } from "../format";
import { Details } from "./ClusterDetail";
import { Results } from "./results";

const FULL = new Set(["full", "owner"]);
const RESTORE = new Set(["restore", "full", "owner"]);

export function BackupDetail({ profile }: { profile: Profile }) {
  const { uid = "" } = useParams();
  const navigate = useNavigate();
  const backup = useBackup(uid);
  const cluster = useCluster(backup.data?.cluster_uid ?? "");
  const keys = [["backups", uid], ["backups"]];
  const cancel = useApiMutation(() => unwrap(api.POST("/api/v1/backups/{uid}/cancel", { params: { path: { uid } } })), keys);
  const retry = useApiMutation(() => unwrap(api.POST("/api/v1/backups/{uid}/retry", { params: { path: { uid } } })), keys);
  const remove = useApiMutation(() => unwrap(api.DELETE("/api/v1/backups/{uid}", { params: { path: { uid } } })), [["backups"]]);
  return (
    <PageSection>
      <QueryView query={backup} what="the backup">
        {(b) => {
          const running = !isFinal(b.status);
          return (
            <>
              <Flex justifyContent={{ default: "justifyContentSpaceBetween" }}>
                <Title headingLevel="h1">{b.name}</Title>
                <Flex>
                  {b.status === "Success" || b.status === "PartialSuccess" ? (
                    RESTORE.has(b.access) ? (
                      <LinkButton to={`/backups/${b.uid}/restore`}>Restore</LinkButton>
                    ) : null
                  ) : null}
                  {running && FULL.has(b.access) ? (
                    <Button variant="secondary" onClick={() => cancel.mutate(undefined)} isLoading={cancel.isPending}>
                      Cancel backup
                    </Button>
                  ) : null}
                  {(b.status === "Failed" || b.status === "PartialSuccess") && FULL.has(b.access) ? (
                    <Button variant="secondary" onClick={() => retry.mutate(undefined)} isLoading={retry.isPending}>
                      Retry failed parts
                    </Button>
                  ) : null}
                  {/* Super admins share only the backups they created (seeds/001). */}
                  {b.owner_id === profile.subject ? <ShareDialog kind="backups" uid={b.uid} name={b.name} /> : null}
                  {!running && FULL.has(b.access) ? (
                    <ConfirmDelete what={`backup ${b.name}`} onConfirm={() => remove.mutateAsync(undefined).then(() => navigate("/backups"))} />
                  ) : null}
                </Flex>
              </Flex>
              {cancel.error ? <ErrorAlert error={cancel.error} title="Not cancelled" /> : null}
              {retry.error ? <ErrorAlert error={retry.error} title="Not retried" /> : null}
              <Progress
                value={percentDone(b.status, b.progress)}
                title={running ? `Stage: ${b.stage || "starting"}` : b.status}
                label={b.progress && running ? `${bytes(b.progress.bytes_done ?? 0)} of ${bytes(b.progress.bytes_total ?? 0)}` : undefined}
                variant={b.status === "Failed" ? "danger" : b.status === "Success" ? "success" : undefined}
                aria-label="Backup progress"
              />
              <Details
                items={[
                  ["Status", <StatusLabel key="s" status={b.status} />],
                  ["Stage", b.stage || "-"],
                  ["Reason", b.reason || "-"],
                  ["Cluster", cluster.data ? <Link to={`/clusters/${b.cluster_uid}`}>{cluster.data.name}</Link> : b.cluster_uid],
                  ["Resources", b.resource_count],
                  ["Volumes", b.volume_count],
                  ["Size", bytes(b.size_bytes)],
                  ["Attempt", b.attempt],
                  ["Owner", b.owner],
                  ["Your access", b.access],
                  ["Started", when(b.started_at)],
                  ["Finished", when(b.finished_at)],
                ]}
              />
              <Results resources={b.resources} volumes={b.volumes} />
            </>
          );
        }}
      </QueryView>
    </PageSection>
  );
}
