import { Alert, Label, LabelGroup, PageSection, Title } from "@patternfly/react-core";
import type { Profile } from "../access";
import { Details } from "./ClusterDetail";

const labels = (names: string[], empty: string) =>
  names.length === 0 ? (
    empty
  ) : (
    <LabelGroup numLabels={12}>
      {names.map((n) => (
        <Label key={n}>{n}</Label>
      ))}
    </LabelGroup>
  );

export function UserProfile({ profile }: { profile: Profile }) {
  return (
    <PageSection>
      <Title headingLevel="h1">User Profile</Title>
      {profile.roles.length === 0 ? (
        <Alert variant="warning" isInline title="You have no Lifeboat role">
          Ask a super administrator or an infrastructure administrator to assign you one.
        </Alert>
      ) : null}
      <Details
        items={[
          ["User", profile.username],
          ["User id", profile.subject],
          ["Groups", labels(profile.groups, "none")],
          ["Roles", labels(profile.roles, "none")],
          ["Permissions", labels(profile.permissions, "none")],
          ["Mode", profile.mode],
        ]}
      />
    </PageSection>
  );
}
