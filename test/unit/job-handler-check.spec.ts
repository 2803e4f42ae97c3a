import { findJobHandlerProblems } from '../../src/common/queues/job-handler-check';

describe('findJobHandlerProblems', () => {
  const jobs = { 'esd-catalog': ['catalog-sync'], 'esd-maintenance': ['sweeper', 'token-status-sync'] };
  const h = (queue: string, job: string | undefined, owner: string) => ({ queue, job, owner });

  it('accepts exactly one handler per job', () => {
    expect(
      findJobHandlerProblems(jobs, [
        h('esd-catalog', 'catalog-sync', 'Catalog.sync'),
        h('esd-maintenance', 'sweeper', 'Maint.sweep'),
        h('esd-maintenance', 'token-status-sync', 'Maint.status'),
      ]),
    ).toEqual([]);
  });

  it('names a job without a handler', () => {
    expect(findJobHandlerProblems(jobs, [h('esd-catalog', 'catalog-sync', 'Catalog.sync')])).toEqual([
      'job "sweeper" on esd-maintenance has no handler',
      'job "token-status-sync" on esd-maintenance has no handler',
    ]);
  });

  it('names the handlers of a job handled twice', () => {
    const problems = findJobHandlerProblems(jobs, [
      h('esd-catalog', 'catalog-sync', 'A.one'),
      h('esd-catalog', 'catalog-sync', 'B.two'),
      h('esd-maintenance', 'sweeper', 'M.s'),
      h('esd-maintenance', 'token-status-sync', 'M.t'),
    ]);
    expect(problems).toEqual(['job "catalog-sync" on esd-catalog has 2 handlers: A.one, B.two']);
  });

  it('refuses a handler for a job outside the table and a catch-all handler', () => {
    const problems = findJobHandlerProblems(jobs, [
      h('esd-catalog', 'catalog-sync', 'C.sync'),
      h('esd-catalog', undefined, 'C.any'),
      h('esd-maintenance', 'sweeper', 'M.s'),
      h('esd-maintenance', 'token-status-sync', 'M.t'),
      h('esd-maintenance', 'reseal', 'M.r'),
    ]);
    expect(problems).toEqual([
      'C.any handles every job of esd-catalog (@Process without a name); name the job it handles',
      'M.r handles job "reseal" on esd-maintenance, which is not in the job table (constants.ts)',
    ]);
  });

  it('ignores handlers of queues that are not the plugin’s', () => {
    expect(findJobHandlerProblems({ q: [] }, [h('other', 'x', 'O.x')])).toEqual([]);
  });
});
