import {
  describeInvalidIdentifier,
  isValidDbInstanceIdentifier,
  normalizeDbInstanceIdentifier,
  sameDbInstance,
} from '../../src/contracts/rds';

describe('RDS DB instance identifier rules', () => {
  it.each(['a', 'orders', 'Orders-DB-1', 'a1', `a${'b'.repeat(62)}`, 'orders-20261123t192147-2'])(
    'accepts %s',
    (id) => {
      expect(isValidDbInstanceIdentifier(id)).toBe(true);
      expect(describeInvalidIdentifier(id)).toBeUndefined();
    },
  );

  it.each([
    ['', 'empty'],
    [`a${'b'.repeat(63)}`, '64 characters long, more than 63'],
    ['1orders', 'does not start with a letter'],
    ['-orders', 'does not start with a letter'],
    ['orders--db', 'two consecutive hyphens'],
    ['orders-', 'ends with a hyphen'],
    ['orders_db', 'contains "_"'],
    ['orders.db', 'contains "."'],
    ['ordérs', 'contains "é"'],
  ])('rejects %j (%s) and says why and what the rule is', (id, why) => {
    expect(isValidDbInstanceIdentifier(id)).toBe(false);
    const reason = describeInvalidIdentifier(id)!;
    expect(reason).toContain(why);
    expect(reason).toContain('1-63 letters, digits or hyphens');
  });

  it('rejects non-strings', () => {
    expect(isValidDbInstanceIdentifier(42)).toBe(false);
    expect(isValidDbInstanceIdentifier(null)).toBe(false);
    expect(describeInvalidIdentifier(undefined)).toContain('not a string');
  });

  it('stores and compares identifiers lower-case', () => {
    expect(normalizeDbInstanceIdentifier('Orders-DB')).toBe('orders-db');
    expect(sameDbInstance('Orders-DB', 'orders-db')).toBe(true);
    expect(sameDbInstance('orders-db', 'orders-db-2')).toBe(false);
    expect(sameDbInstance(null, null)).toBe(false);
  });
});
