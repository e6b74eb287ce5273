// Server state for the pages: one TanStack Query hook per API read, polling where it is live.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { isFinal } from "../format";
import { firstPage, nextPage, pageQuery, previousPage, type Cursors } from "../paging";
import { api, unwrap, type Schemas } from "./client";

const LIVE_MS = 2_000;

export const useProfile = () =>
  useQuery({ queryKey: ["me"], queryFn: () => unwrap(api.GET("/api/v1/me")), staleTime: 60_000 });

export const useServiceStatus = () =>
  useQuery({ queryKey: ["service-status"], queryFn: () => unwrap(api.GET("/api/v1/service-status")), refetchInterval: 10_000 });

export const useClusters = () =>
  useQuery({ queryKey: ["clusters"], queryFn: () => unwrap(api.GET("/api/v1/clusters")), refetchInterval: 10_000 });

export const useCluster = (uid: string) =>
  useQuery({
    queryKey: ["clusters", uid],
    queryFn: () => unwrap(api.GET("/api/v1/clusters/{uid}", { params: { path: { uid } } })),
    refetchInterval: (query) => (query.state.data?.status === "Pending" ? LIVE_MS : 10_000),
  });

/** The namespaces of the cluster's last sync: read again whenever a newer sync is recorded. */
export const useNamespaces = (uid: string, syncedAt: string | null | undefined) =>
  useQuery({
    queryKey: ["clusters", uid, "namespaces", syncedAt ?? ""],
    queryFn: () => unwrap(api.GET("/api/v1/clusters/{uid}/namespaces", { params: { path: { uid } } })),
    // The last list stays on screen while the new sync's is read (no flicker under the cursor).
    placeholderData: keepPreviousData,
  });

export const useVirtualMachines = (uid: string, enabled: boolean) =>
  useQuery({
    queryKey: ["clusters", uid, "virtual-machines"],
    queryFn: () => unwrap(api.GET("/api/v1/clusters/{uid}/virtual-machines", { params: { path: { uid } } })),
    enabled,
  });

/** A page of a list as the API answers it. */
export interface ListPage<T> {
  items: T[];
  next?: string | null;
}
export type Filters = Record<string, string | undefined>;
type PageLoader<T, F extends Filters> = (query: Partial<F> & { limit: number; after?: string }) => Promise<ListPage<T>>;

/** One page of a list the API pages, the cursors followed to it and the moves from it. */
export interface PagedList<T> {
  query: { isPending: boolean; isFetching: boolean; error: unknown; data: ListPage<T> | undefined };
  cursors: Cursors;
  /** Whether a filter is set (an empty page then means nothing matched). */
  filtered: boolean;
  next: () => void;
  previous: () => void;
  setPerPage: (perPage: number) => void;
}

export const PER_PAGE = 20;

/** A list read page by page from the API with its filters: a change of filter or page size
 * starts again at the first page, as the cursors followed belong to the old query. */
export function usePagedList<T, F extends Filters>(
  key: string,
  filters: F,
  load: PageLoader<T, F>,
  refetchInterval?: number,
): PagedList<T> {
  // Cursors belong to one list and one query: another of either starts at the first page.
  const filterKey = JSON.stringify([key, filters]);
  const [paging, setPaging] = useState({ filterKey, cursors: firstPage(PER_PAGE) });
  const cursors = paging.filterKey === filterKey ? paging.cursors : firstPage(paging.cursors.perPage);
  const query = pageQuery(filters, cursors);
  const result = useQuery({
    queryKey: [key, "page", query],
    queryFn: () => load(query),
    placeholderData: keepPreviousData,
    refetchInterval,
  });
  const move = (to: Cursors) => setPaging({ filterKey, cursors: to });
  return {
    query: result,
    cursors,
    filtered: Object.keys(query).some((name) => name !== "limit" && name !== "after"),
    next: () => move(nextPage(cursors, result.data?.next)),
    previous: () => move(previousPage(cursors)),
    setPerPage: (perPage) => move(firstPage(perPage)),
  };
}

export interface BackupFilters extends Filters {
  name_prefix?: string;
  status?: Schemas["BackupStatus"] | "";
  cluster_uid?: string;
}

export const useBackupPages = (filters: BackupFilters) =>
  usePagedList(
    "backups",
    filters,
    (query) => unwrap(api.GET("/api/v1/backups", { params: { query: { ...query, status: query.status || undefined } } })),
    5_000,
  );

export interface ClusterFilters extends Filters {
  name_prefix?: string;
  status?: Schemas["ClusterStatus"] | "";
}

export const useClusterPages = (filters: ClusterFilters) =>
  usePagedList(
    "clusters",
    filters,
    (query) => unwrap(api.GET("/api/v1/clusters", { params: { query: { ...query, status: query.status || undefined } } })),
    10_000,
  );

export const useBackup = (uid: string) =>
  useQuery({
    queryKey: ["backups", uid],
    queryFn: () => unwrap(api.GET("/api/v1/backups/{uid}", { params: { path: { uid } } })),
    refetchInterval: (query) => (query.state.data && isFinal(query.state.data.status) ? false : LIVE_MS),
  });

export const useSchedules = () =>
  useQuery({ queryKey: ["backup-schedules"], queryFn: () => unwrap(api.GET("/api/v1/backup-schedules")), refetchInterval: 10_000 });

export const useRestores = () =>
  useQuery({ queryKey: ["restores"], queryFn: () => unwrap(api.GET("/api/v1/restores")) });

export const useRestore = (uid: string) =>
  useQuery({
    queryKey: ["restores", uid],
    queryFn: () => unwrap(api.GET("/api/v1/restores/{uid}", { params: { path: { uid } } })),
    refetchInterval: (query) => (query.state.data && isFinal(query.state.data.status) ? false : LIVE_MS),
  });

export const useLocations = () =>
  useQuery({ queryKey: ["backup-locations"], queryFn: () => unwrap(api.GET("/api/v1/backup-locations")) });
export const useRules = () => useQuery({ queryKey: ["rules"], queryFn: () => unwrap(api.GET("/api/v1/rules")) });
export const usePolicies = () =>
  useQuery({ queryKey: ["schedule-policies"], queryFn: () => unwrap(api.GET("/api/v1/schedule-policies")) });
/** The first page of cloud accounts (the API's default size), to choose one from. */
export const useCloudAccounts = (enabled = true) =>
  useQuery({ queryKey: ["cloud-accounts"], queryFn: () => unwrap(api.GET("/api/v1/cloud-accounts")), enabled });
export const useSharedClusters = () =>
  useQuery({ queryKey: ["shared-clusters"], queryFn: () => unwrap(api.GET("/api/v1/shared-clusters")) });
export const useLicense = () => useQuery({ queryKey: ["license"], queryFn: () => unwrap(api.GET("/api/v1/license")) });
export const useUsers = () => useQuery({ queryKey: ["users"], queryFn: () => unwrap(api.GET("/api/v1/users")) });
export const useGroups = () => useQuery({ queryKey: ["groups"], queryFn: () => unwrap(api.GET("/api/v1/groups")) });
export const useRoles = () => useQuery({ queryKey: ["roles"], queryFn: () => unwrap(api.GET("/api/v1/roles")) });

export const useReceiverPages = (filters: { name_prefix: string }) =>
  usePagedList("notification-receivers", filters, (query) =>
    unwrap(api.GET("/api/v1/notification-receivers", { params: { query } })),
  );
export const useSubscriptionPages = (filters: { name_prefix: string }) =>
  usePagedList("notification-subscriptions", filters, (query) =>
    unwrap(api.GET("/api/v1/notification-subscriptions", { params: { query } })),
  );
/** The first page of receivers (the API's default size): names for subscriptions, and choices. */
export const useReceivers = () =>
  useQuery({ queryKey: ["notification-receivers"], queryFn: () => unwrap(api.GET("/api/v1/notification-receivers")) });

export const useShares = (kind: Schemas["Kind"], uid: string) =>
  useQuery({
    queryKey: ["shares", kind, uid],
    queryFn: () => unwrap(api.GET("/api/v1/shares", { params: { query: { object_kind: kind, object_uid: uid } } })),
  });

/** A mutation that refreshes the listed queries once it succeeded. */
export function useApiMutation<TInput, TResult>(run: (input: TInput) => Promise<TResult>, invalidates: string[][]) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: run,
    onSuccess: () => Promise.all(invalidates.map((queryKey) => client.invalidateQueries({ queryKey }))),
  });
}
