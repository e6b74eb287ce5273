import { PageSection, Title } from "@patternfly/react-core";
import { useServiceStatus } from "../api/hooks";
import { PagedTable } from "../components/PagedTable";
import { QueryView } from "../components/states";
import { StatusLabel } from "../components/StatusLabel";

export function ServiceStatus() {
  const status = useServiceStatus();
  return (
    <PageSection>
      <Title headingLevel="h1">Service Status</Title>
      <QueryView query={status} what="service status">
        {(list) => (
          <PagedTable
            label="Service Status"
            rows={list.items}
            rowKey={(s) => s.name}
            empty="No services reported"
            columns={[
              { title: "Service", cell: (s) => s.name },
              { title: "Status", cell: (s) => <StatusLabel status={s.status} /> },
              { title: "Version", cell: (s) => s.version || "-" },
              { title: "Detail", cell: (s) => s.detail || "-" },
            ]}
          />
        )}
      </QueryView>
    </PageSection>
  );
}
