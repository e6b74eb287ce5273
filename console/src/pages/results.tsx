// The per-resource and per-volume results of a backup, a restore or a restore preview.
import { Title } from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { Empty } from "../components/states";

type Row = { [key: string]: unknown };

const text = (value: unknown) => (value === undefined || value === null || value === "" ? "-" : String(value));

// A column's title, then the keys its value may be under (a backup says `type`, a restore `kind`).
type ResultColumn = [string, ...string[]];

export function ResultsTable({ label, rows, columns }: { label: string; rows: Row[]; columns: ResultColumn[] }) {
  if (rows.length === 0) return <Empty title={`No ${label.toLowerCase()}`} />;
  return (
    <Table aria-label={label} variant="compact">
      <Thead>
        <Tr>
          {columns.map(([title]) => (
            <Th key={title}>{title}</Th>
          ))}
        </Tr>
      </Thead>
      <Tbody>
        {rows.map((row, index) => (
          <Tr key={index}>
            {columns.map(([title, ...keys]) => (
              <Td key={title} dataLabel={title}>
                {text(keys.map((key) => row[key]).find((value) => value !== undefined))}
              </Td>
            ))}
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}

export const RESOURCE_COLUMNS: ResultColumn[] = [
  ["Kind", "kind", "type"],
  ["Namespace", "namespace"],
  ["Name", "name"],
  ["Action", "action"],
  ["Status", "status"],
  ["Reason", "reason"],
];

export const VOLUME_COLUMNS: ResultColumn[] = [
  ["Namespace", "namespace"],
  ["Claim", "pvc"],
  ["Action", "action"],
  ["Status", "status"],
  ["Bytes", "bytes_total"],
  ["Reason", "reason"],
];

/** The Resources and Volumes sections of a backup's or a restore's detail page. */
export function Results({ resources, volumes }: { resources: Row[]; volumes: Row[] }) {
  return (
    <>
      <Title headingLevel="h2">Resources</Title>
      <ResultsTable label="Resources" rows={resources} columns={RESOURCE_COLUMNS} />
      <Title headingLevel="h2">Volumes</Title>
      <ResultsTable label="Volumes" rows={volumes} columns={VOLUME_COLUMNS} />
    </>
  );
}
