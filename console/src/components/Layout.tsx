import {
  Dropdown,
  DropdownItem,
  DropdownList,
  Masthead,
  MastheadBrand,
  MastheadContent,
  MastheadMain,
  MenuToggle,
  Nav,
  NavExpandable,
  NavItem,
  NavList,
  Page,
  PageSidebar,
  PageSidebarBody,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from "@patternfly/react-core";
import { useState, type ReactNode } from "react";
import { NavLink, useLocation, useNavigate } from "react-router-dom";
import { navigation, type Profile } from "../access";
import { useAuth } from "../auth/AuthProvider";

function UserMenu({ profile }: { profile: Profile }) {
  const [open, setOpen] = useState(false);
  const { signOut } = useAuth();
  const navigate = useNavigate();
  const entries = navigation(profile).filter((e) => e.path === "/profile" || e.path === "/users");
  return (
    <Dropdown
      isOpen={open}
      onOpenChange={setOpen}
      popperProps={{ position: "right" }}
      toggle={(ref) => (
        <MenuToggle ref={ref} onClick={() => setOpen(!open)} isExpanded={open} variant="plainText">
          {profile.username}
        </MenuToggle>
      )}
    >
      <DropdownList>
        {entries.map((entry) => (
          <DropdownItem key={entry.path} onClick={() => navigate(entry.path)}>
            {entry.label}
          </DropdownItem>
        ))}
        <DropdownItem key="sign-out" onClick={() => void signOut()}>
          Sign out
        </DropdownItem>
      </DropdownList>
    </Dropdown>
  );
}

export function Layout({ profile, children }: { profile: Profile; children: ReactNode }) {
  const location = useLocation();
  const entries = navigation(profile);
  const settings = entries.filter((e) => e.group === "Settings");
  const link = (path: string, label: string) => (
    <NavItem key={path} isActive={path === "/" ? location.pathname === "/" : location.pathname.startsWith(path)}>
      <NavLink to={path}>{label}</NavLink>
    </NavItem>
  );
  const masthead = (
    <Masthead>
      <MastheadMain>
        <MastheadBrand>
          <strong>Lifeboat</strong>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <Toolbar isFullHeight>
          <ToolbarContent>
            <ToolbarItem align={{ default: "alignEnd" }}>
              <UserMenu profile={profile} />
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
      </MastheadContent>
    </Masthead>
  );
  const sidebar = (
    <PageSidebar>
      <PageSidebarBody>
        <Nav aria-label="Lifeboat">
          <NavList>
            {entries.filter((e) => !e.group).slice(0, 3).map((e) => link(e.path, e.label))}
            {settings.length > 0 ? (
              <NavExpandable title="Settings" isExpanded>
                {settings.map((e) => link(e.path, e.label))}
              </NavExpandable>
            ) : null}
            {entries.filter((e) => !e.group).slice(3).map((e) => link(e.path, e.label))}
          </NavList>
        </Nav>
      </PageSidebarBody>
    </PageSidebar>
  );
  return (
    <Page masthead={masthead} sidebar={sidebar} isManagedSidebar>
      {children}
    </Page>
  );
}
