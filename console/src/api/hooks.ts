// Server state for the pages: one TanStack Query hook per API read, polling where it is live.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { isFinal } from "../format";
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

export const useBackups = () =>
  useQuery({ queryKey: ["backups"], queryFn: () => unwrap(api.GET("/api/v1/backups")), refetchInterval: 5_000 });

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
export const useCloudAccounts = () =>
  useQuery({ queryKey: ["cloud-accounts"], queryFn: () => unwrap(api.GET("/api/v1/cloud-accounts")) });
export const useSharedClusters = () =>
  useQuery({ queryKey: ["shared-clusters"], queryFn: () => unwrap(api.GET("/api/v1/shared-clusters")) });
export const useLighthouses = () =>
  useQuery({ queryKey: ["lighthouses"], queryFn: () => unwrap(api.GET("/api/v1/lighthouses")) });
export const useLicense = () => useQuery({ queryKey: ["license"], queryFn: () => unwrap(api.GET("/api/v1/license")) });
export const useUsers = () => useQuery({ queryKey: ["users"], queryFn: () => unwrap(api.GET("/api/v1/users")) });
export const useGroups = () => useQuery({ queryKey: ["groups"], queryFn: () => unwrap(api.GET("/api/v1/groups")) });
export const useRoles = () => useQuery({ queryKey: ["roles"], queryFn: () => unwrap(api.GET("/api/v1/roles")) });

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
