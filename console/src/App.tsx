import { PageSection } from "@patternfly/react-core";
import { Route, Routes } from "react-router-dom";
import { useProfile } from "./api/hooks";
import { Layout } from "./components/Layout";
import { Empty, QueryView } from "./components/states";
import { AddCluster } from "./pages/AddCluster";
import { BackupDetail } from "./pages/BackupDetail";
import { Backups } from "./pages/Backups";
import { ClusterDetail } from "./pages/ClusterDetail";
import { DiscoveryConfigs } from "./pages/DiscoveryConfigs";
import { Home } from "./pages/Home";
import { License, Lighthouse } from "./pages/Misc";
import { NewBackup } from "./pages/NewBackup";
import { NewRestore } from "./pages/NewRestore";
import { Notifications } from "./pages/Notifications";
import { RestoreDetail } from "./pages/RestoreDetail";
import { ServiceStatus } from "./pages/ServiceStatus";
import { SettingsPage } from "./pages/Settings";
import { SharedClusters } from "./pages/SharedClusters";
import { UserManagement } from "./pages/UserManagement";
import { UserProfile } from "./pages/UserProfile";

export function App() {
  const profile = useProfile();
  return (
    <QueryView query={profile} what="your profile">
      {(me) => (
        <Layout profile={me}>
          <Routes>
            {me.roles.length === 0 ? (
              <Route path="*" element={<UserProfile profile={me} />} />
            ) : (
              <>
                <Route path="/" element={<Home profile={me} />} />
                <Route path="/clusters/new" element={<AddCluster profile={me} />} />
                <Route path="/clusters/:uid" element={<ClusterDetail profile={me} />} />
                <Route path="/clusters/:uid/backup" element={<NewBackup />} />
                <Route path="/shared-clusters" element={<SharedClusters />} />
                <Route path="/backups" element={<Backups />} />
                <Route path="/backups/:uid" element={<BackupDetail profile={me} />} />
                <Route path="/backups/:uid/restore" element={<NewRestore />} />
                <Route path="/restores/:uid" element={<RestoreDetail />} />
                <Route path="/settings/notifications" element={<Notifications profile={me} />} />
                <Route path="/settings/:kind" element={<SettingsPage profile={me} />} />
                <Route path="/discovery" element={<DiscoveryConfigs profile={me} />} />
                <Route path="/lighthouse" element={<Lighthouse />} />
                <Route path="/service-status" element={<ServiceStatus />} />
                <Route path="/license" element={<License />} />
                <Route path="/profile" element={<UserProfile profile={me} />} />
                <Route path="/users" element={<UserManagement profile={me} />} />
                <Route
                  path="*"
                  element={
                    <PageSection>
                      <Empty title="Page not found">No page of the console is at this address.</Empty>
                    </PageSection>
                  }
                />
              </>
            )}
          </Routes>
        </Layout>
      )}
    </QueryView>
  );
}
