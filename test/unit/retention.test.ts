import { type RetentionCandidate, selectRetention } from '../../src/contracts/retention';

const c = (
  id: string,
  snapshotTime: string,
  status = 'available',
  deletionProtection = false,
): RetentionCandidate => ({
  id,
  snapshotTime,
  status,
  deletionProtection,
});
const r1 = c('orders-20261101t000000', '2026-11-01T00:00:00Z');
const r2 = c('orders-20261102t000000', '2026-11-02T00:00:00Z', 'available', true);
const r3 = c('orders-20261103t000000', '2026-11-03T00:00:00Z');
const r4 = c('orders-20261104t000000', '2026-11-04T00:00:00.000+00:00');

describe('selectRetention', () => {
  it('keeps the newest N including live, deletes the rest oldest first', () => {
    expect(selectRetention([r2, r4, r1, r3], 2, r4.id)).toEqual({
      keep: [r4.id, r3.id],
      delete: [
        { id: r1.id, deletionProtection: false },
        { id: r2.id, deletionProtection: true },
      ],
    });
  });

  it('never deletes live, even when it is the oldest (after a rollback)', () => {
    expect(selectRetention([r1, r2, r3, r4], 2, r1.id)).toEqual({
      keep: [r4.id, r1.id],
      delete: [
        { id: r2.id, deletionProtection: true },
        { id: r3.id, deletionProtection: false },
      ],
    });
  });

  it('keep=1 keeps only live', () => {
    const d = selectRetention([r1, r2, r3, r4], 1, r2.id);
    expect(d.keep).toEqual([r2.id]);
    expect(d.delete.map((x) => x.id)).toEqual([r1.id, r3.id, r4.id]);
  });

  it('keep larger than the count deletes nothing', () => {
    expect(selectRetention([r1, r3], 5, r3.id)).toEqual({ keep: [r3.id, r1.id], delete: [] });
    expect(selectRetention([], 3, undefined)).toEqual({ keep: [], delete: [] });
  });

  it('breaks ties on time by identifier, newer suffix first', () => {
    const a = c('orders-20261104t000000', '2026-11-04T00:00:00Z');
    const b = c('orders-20261104t000000-2', '2026-11-04T00:00:00Z');
    const d = selectRetention([a, b, r1], 1, undefined);
    expect(d.keep).toEqual([b.id]);
    expect(d.delete.map((x) => x.id)).toEqual([r1.id, a.id]);
    // and the input order does not matter
    expect(selectRetention([r1, b, a], 1, undefined)).toEqual(d);
  });

  it('compares times, not strings (offsets)', () => {
    const early = c('x-early', '2026-11-05T01:00:00+02:00'); // 2026-11-04T23:00Z
    const late = c('a-late', '2026-11-04T23:30:00Z');
    expect(selectRetention([early, late], 1, undefined).keep).toEqual(['a-late']);
  });

  it('ignores replicas already being deleted, and counts them in neither list', () => {
    const gone = c('orders-20261105t000000', '2026-11-05T00:00:00Z', 'deleting');
    expect(selectRetention([gone, r1, r2], 1, undefined)).toEqual({
      keep: [r2.id],
      delete: [{ id: r1.id, deletionProtection: false }],
    });
  });

  it('a live instance that is not a managed replica takes no slot', () => {
    expect(selectRetention([r1, r2, r3], 2, 'hand-made-db').keep).toEqual([r3.id, r2.id]);
  });

  it('matches live ignoring case', () => {
    expect(selectRetention([r1, r2], 1, r1.id.toUpperCase()).keep).toEqual([r1.id]);
  });

  it('treats an unreadable snapshot time as the oldest', () => {
    const unknown = c('orders-unknown', '');
    expect(selectRetention([unknown, r1], 1, undefined).delete).toEqual([
      { id: unknown.id, deletionProtection: false },
    ]);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects keep=%p', (keep) => {
    expect(() => selectRetention([r1], keep, undefined)).toThrow(
      expect.objectContaining({ name: 'InvalidInput' }),
    );
  });
});

describe('selectRetention with the previously live replica', () => {
  it('keeps live and the one that was live before it, even when both are older than others', () => {
    // After a rollback from r3 to r2, r4 is replicated and goes live: r2 is the rollback target.
    const decision = selectRetention([r1, r2, r3, r4], 2, r4.id, r2.id);
    expect(decision.keep).toEqual([r4.id, r2.id]);
    expect(decision.delete.map((d) => d.id)).toEqual([r1.id, r3.id]);
  });

  it('fills the remaining slots with the newest others', () => {
    expect(selectRetention([r1, r2, r3, r4], 3, r4.id, r1.id).keep).toEqual([r4.id, r3.id, r1.id]);
  });

  it('keeps only live when keep is 1', () => {
    expect(selectRetention([r1, r2, r3, r4], 1, r4.id, r2.id).keep).toEqual([r4.id]);
  });

  it('gives no slot to a previous replica it does not manage', () => {
    expect(selectRetention([r1, r2, r3, r4], 2, r4.id, 'hand-made').keep).toEqual([r4.id, r3.id]);
  });
});
