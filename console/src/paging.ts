// Paging through an API list by its cursors: the API answers a page and the `next` cursor of
// the one after it, so the console keeps the trail of cursors it followed to step back.

export interface Cursors {
  perPage: number;
  /** The `after` of each page followed so far: the first page has none. */
  trail: (string | undefined)[];
}

export const firstPage = (perPage: number): Cursors => ({ perPage, trail: [undefined] });

/** The page after this one, when the API gave its cursor (`next` is null on the last page). */
export function nextPage(cursors: Cursors, next: string | null | undefined): Cursors {
  return next ? { ...cursors, trail: [...cursors.trail, next] } : cursors;
}

export function previousPage(cursors: Cursors): Cursors {
  return cursors.trail.length > 1 ? { ...cursors, trail: cursors.trail.slice(0, -1) } : cursors;
}

/** The `after` to ask the API for the current page with. */
export const currentAfter = (cursors: Cursors): string | undefined => cursors.trail[cursors.trail.length - 1];

export const pageNumber = (cursors: Cursors): number => cursors.trail.length;

/** The query of a page: the filters that are set (an empty one is no filter), limit and after. */
export function pageQuery<F extends Record<string, string | undefined>>(
  filters: F,
  cursors: Cursors,
): Partial<F> & { limit: number; after?: string } {
  const set = Object.entries(filters).filter(([, value]) => value !== undefined && value.trim() !== "");
  const after = currentAfter(cursors);
  return { ...(Object.fromEntries(set) as Partial<F>), limit: cursors.perPage, ...(after ? { after } : {}) };
}

/** Which items of the whole list a page shows, 1-based: `first` > `last` on an empty page. */
export function shownRange(cursors: Cursors, shown: number): { first: number; last: number } {
  const before = (pageNumber(cursors) - 1) * cursors.perPage;
  return { first: before + 1, last: before + shown };
}
