import { Button, type ButtonProps } from "@patternfly/react-core";
import { forwardRef, useMemo, type ReactNode } from "react";
import { Link } from "react-router-dom";

/** A console link that looks like a button (one link element, not a button inside a link). */
export function LinkButton({ to, variant = "primary", children }: { to: string; variant?: ButtonProps["variant"]; children: ReactNode }) {
  // One component per target, so that a re-render keeps the same anchor element (and focus).
  const RouterLink = useMemo(() => {
    const link = forwardRef<HTMLAnchorElement, object>((props, ref) => <Link ref={ref} {...props} to={to} />);
    link.displayName = "RouterLink";
    return link;
  }, [to]);
  return (
    <Button component={RouterLink} variant={variant}>
      {children}
    </Button>
  );
}
