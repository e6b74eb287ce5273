// A table with its toolbar (filters) and pagination. Lists the API pages (`list`) are paged by
// the server through their cursors; the short lists it answers whole (`rows`: a cluster's
// namespaces, the services) are paged here.
import { Pagination, Toolbar, ToolbarContent, ToolbarItem } from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { useState, type ReactNode } from "react";
import type { PagedList } from "../api/hooks";
import { pageOf } from "../format";
import { pageNumber, shownRange } from "../paging";
import { Empty, ErrorAlert, Loading } from "./states";

export interface Column<T> {
  title: string;
  cell: (row: T) => ReactNode;
}

interface TableProps<T> {
  label: string;
  columns: Column<T>[];
  rowKey: (row: T) => string;
  actions?: (row: T) => ReactNode;
  empty: string;
  toolbar?: ReactNode;
}

const PER_PAGE_OPTIONS = [10, 20, 50, 100].map((value) => ({ title: String(value), value }));

export function PagedTable<T>(props: TableProps<T> & ({ rows: T[] } | { list: PagedList<T> })) {
  return "list" in props ? <ServerPaged {...props} /> : <LocallyPaged {...props} />;
}

function LocallyPaged<T>({ rows, toolbar, ...table }: TableProps<T> & { rows: T[] }) {
  const [page, setPage] = useState(1);
  const [perPage, setPerPage] = useState(20);
  const shown = pageOf(rows, page, perPage);
  const pagination = (
    <Pagination
      itemCount={rows.length}
      perPage={perPage}
      page={shown.page}
      onSetPage={(_e, next) => setPage(next)}
      onPerPageSelect={(_e, next) => {
        setPerPage(next);
        setPage(1);
      }}
      perPageOptions={PER_PAGE_OPTIONS}
      titles={{ paginationAriaLabel: `${table.label} pagination` }}
      isCompact
    />
  );
  return (
    <>
      <TableToolbar toolbar={toolbar} pagination={pagination} />
      {rows.length === 0 ? <Empty title={table.empty} /> : <RowsTable {...table} rows={shown.rows} />}
    </>
  );
}

function ServerPaged<T>({ list, toolbar, ...table }: TableProps<T> & { list: PagedList<T> }) {
  const { query, cursors } = list;
  const rows = query.data?.items ?? [];
  const hasNext = Boolean(query.data?.next);
  const range = shownRange(cursors, rows.length);
  // The API does not count the whole list (that would cost what paging saves): the pager knows
  // the items before this page, this page, and whether another follows.
  const pagination = (
    <Pagination
      itemCount={range.last + (hasNext ? 1 : 0)}
      perPage={cursors.perPage}
      page={pageNumber(cursors)}
      onNextClick={() => list.next()}
      onPreviousClick={() => list.previous()}
      onPerPageSelect={(_e, next) => list.setPerPage(next)}
      perPageOptions={PER_PAGE_OPTIONS}
      titles={{ paginationAriaLabel: `${table.label} pagination` }}
      toggleTemplate={() => (
        <>
          <b>
            {rows.length ? range.first : 0} - {range.last}
          </b>{" "}
          of <b>{hasNext ? "more" : range.last}</b>
        </>
      )}
      isCompact
    />
  );
  let body: ReactNode;
  if (query.error) body = <ErrorAlert error={query.error} />;
  else if (query.isPending) body = <Loading what={table.label} />;
  else if (rows.length === 0)
    body = <Empty title={list.filtered ? "Nothing matches the filters" : pageNumber(cursors) > 1 ? "No more items" : table.empty} />;
  else body = <RowsTable {...table} rows={rows} />;
  return (
    <>
      <TableToolbar toolbar={toolbar} pagination={pagination} />
      {body}
    </>
  );
}

function TableToolbar({ toolbar, pagination }: { toolbar?: ReactNode; pagination: ReactNode }) {
  return (
    <Toolbar>
      <ToolbarContent>
        {toolbar}
        <ToolbarItem variant="pagination">{pagination}</ToolbarItem>
      </ToolbarContent>
    </Toolbar>
  );
}

function RowsTable<T>({ label, columns, rowKey, actions, rows }: Omit<TableProps<T>, "empty" | "toolbar"> & { rows: T[] }) {
  return (
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
        {rows.map((row) => (
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
  );
}
