import { PageSection, Title } from "@patternfly/react-core";
import { useState } from "react";
import { api, unwrap } from "../api/client";
import { useLicense, usePagedList } from "../api/hooks";
import { NameFilter } from "../components/ListFilters";
import { PagedTable } from "../components/PagedTable";
import { QueryView } from "../components/states";
import { StatusLabel } from "../components/StatusLabel";
import { when } from "../format";
import { Details } from "./ClusterDetail";

export function Lighthouse() {
  const [filters, setFilters] = useState({ name_prefix: "" });
  const lighthouses = usePagedList("lighthouses", filters, (query) => unwrap(api.GET("/api/v1/lighthouses", { params: { query } })));
  return (
    <PageSection>
      <Title headingLevel="h1">Lighthouse</Title>
      <PagedTable
        label="Lighthouse"
        list={lighthouses}
        rowKey={(l) => l.uid}
        empty="No storage clusters added"
        toolbar={<NameFilter value={filters.name_prefix} onChange={(name_prefix) => setFilters({ name_prefix })} />}
        columns={[
          { title: "Name", cell: (l) => l.name },
          { title: "Status", cell: (l) => <StatusLabel status={l.status} /> },
          { title: "Owner", cell: (l) => l.owner },
        ]}
      />
    </PageSection>
  );
}

/** The license as the API reports it: state, limits and usage (importing one: `lifeboat license`). */
export function License() {
  const license = useLicense();
  return (
    <PageSection>
      <Title headingLevel="h1">License</Title>
      <QueryView query={license} what="the license">
        {(l) => (
          <Details
            items={[
              ["State", <StatusLabel key="s" status={l.state} />],
              ["Reason", l.reason || "-"],
              ["Backups allowed", l.backups_allowed ? "yes" : "no"],
              ["Customer", l.customer || "-"],
              ["Edition", l.edition || "-"],
              ["Nodes", l.node_limit === null || l.node_limit === undefined ? `${l.nodes_used}` : `${l.nodes_used} of ${l.node_limit}`],
              ["Valid until", when(l.valid_until)],
              ["Days left", l.days_left ?? "-"],
              ["Imported", l.imported_at ? `${when(l.imported_at)} by ${l.imported_by ?? "-"}` : "-"],
            ]}
          />
        )}
      </QueryView>
    </PageSection>
  );
}
