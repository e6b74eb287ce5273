// A table with client-side pagination: the API lists whole collections for now.
import { Pagination, Toolbar, ToolbarContent, ToolbarItem } from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { useState, type ReactNode } from "react";
import { pageOf } from "../format";
import { Empty } from "./states";

export interface Column<T> {
  title: string;
  cell: (row: T) => ReactNode;
}

export function PagedTable<T>({
  label,
  rows,
  columns,
  rowKey,
  actions,
  empty,
  toolbar,
}: {
  label: string;
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  actions?: (row: T) => ReactNode;
  empty: string;
  toolbar?: ReactNode;
}) {
  const [page, setPage] = useState(1);
  const [perPage, setPerPage] = useState(20);
  const shown = pageOf(rows, page, perPage);
  return (
    <>
      <Toolbar>
        <ToolbarContent>
          {toolbar ? <ToolbarItem>{toolbar}</ToolbarItem> : null}
          <ToolbarItem variant="pagination">
            <Pagination
              itemCount={rows.length}
              perPage={perPage}
              page={shown.page}
              onSetPage={(_e, next) => setPage(next)}
              onPerPageSelect={(_e, next) => {
                setPerPage(next);
                setPage(1);
              }}
              isCompact
            />
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      {rows.length === 0 ? (
        <Empty title={empty} />
      ) : (
        <Table aria-label={label} variant="compact">
          <Thead>
            <Tr>
              {columns.map((column) => (
                <Th key={column.title}>{column.title}</Th>
              ))}
              {actions ? <Th screenReaderText="Actions" /> : null}
            </Tr>
          </Thead>
          <Tbody>
            {shown.rows.map((row) => (
              <Tr key={rowKey(row)}>
                {columns.map((column) => (
                  <Td key={column.title} dataLabel={column.title}>
                    {column.cell(row)}
                  </Td>
                ))}
                {actions ? (
                  <Td isActionCell modifier="nowrap">
                    {actions(row)}
                  </Td>
                ) : null}
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
    </>
  );
}
