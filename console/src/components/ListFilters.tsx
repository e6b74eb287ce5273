// The toolbar filters of paged lists; the API filters, so they reach every page, not only the
// one shown.
import { FormSelect, FormSelectOption, SearchInput, ToolbarItem } from "@patternfly/react-core";
import { useEffect, useState } from "react";

const TYPING_MS = 300;

/** Names starting with what is typed (the API's name_prefix), asked once typing pauses. */
export function NameFilter({
  value,
  onChange,
  label = "Filter by name",
}: {
  value: string;
  onChange: (prefix: string) => void;
  /** The filter's accessible name: two lists on a page need two. */
  label?: string;
}) {
  const [text, setText] = useState(value);
  useEffect(() => {
    if (text === value) return;
    const timer = setTimeout(() => onChange(text), TYPING_MS);
    return () => clearTimeout(timer);
  }, [text, value, onChange]);
  return (
    <ToolbarItem>
      <SearchInput
        aria-label={label}
        placeholder="Name starts with"
        value={text}
        onChange={(_e, next) => setText(next)}
        onSearch={(_e, next) => onChange(next)}
        onClear={() => {
          setText("");
          onChange("");
        }}
      />
    </ToolbarItem>
  );
}

/** One of a fixed set of values, or all of them (""). */
export function SelectFilter({
  label,
  all,
  options,
  value,
  onChange,
}: {
  label: string;
  all: string;
  options: [string, string][];
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <ToolbarItem>
      <FormSelect aria-label={label} value={value} onChange={(_e, next) => onChange(next)}>
        <FormSelectOption value="" label={all} />
        {options.map(([option, text]) => (
          <FormSelectOption key={option} value={option} label={text} />
        ))}
      </FormSelect>
    </ToolbarItem>
  );
}

/** A list's status filter: `statuses` maps each status the API has to how it is shown. */
export function StatusFilter<S extends string>({
  statuses,
  value,
  onChange,
}: {
  statuses: Record<S, string>;
  value: S | "";
  onChange: (status: S | "") => void;
}) {
  return (
    <SelectFilter
      label="Filter by status"
      all="All statuses"
      options={Object.entries(statuses) as [S, string][]}
      value={value}
      onChange={(status) => onChange(status as S | "")}
    />
  );
}
