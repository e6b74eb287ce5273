import { PageSection, Title } from "@patternfly/react-core";
import { useLighthouses } from "../api/hooks";
import { PagedTable } from "../components/PagedTable";
import { Empty, QueryView } from "../components/states";
import { StatusLabel } from "../components/StatusLabel";

export function Lighthouse() {
  const lighthouses = useLighthouses();
  return (
    <PageSection>
      <Title headingLevel="h1">Lighthouse</Title>
      <QueryView query={lighthouses} what="storage clusters">
        {(list) => (
          <PagedTable
            label="Lighthouse"
            rows={list.items}
            rowKey={(l) => l.uid}
            empty="No storage clusters added"
            columns={[
              { title: "Name", cell: (l) => l.name },
              { title: "Status", cell: (l) => <StatusLabel status={l.status} /> },
              { title: "Owner", cell: (l) => l.owner },
            ]}
          />
        )}
      </QueryView>
    </PageSection>
  );
}

export function License() {
  return (
    <PageSection>
      <Title headingLevel="h1">License</Title>
      <Empty title="No license information">The API has no license yet: Lifeboat runs without one.</Empty>
    </PageSection>
  );
}
