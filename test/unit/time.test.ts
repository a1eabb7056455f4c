import { compactUtc, isDateTime, parseDateTime } from '../../src/contracts/time';

describe('RFC 3339 date-time', () => {
  it.each([
    ['2026-11-23T19:21:47Z', Date.UTC(2026, 10, 23, 19, 21, 47)],
    ['2026-11-23T19:21:47.123Z', Date.UTC(2026, 10, 23, 19, 21, 47, 123)],
    ['2026-11-23t19:21:47.123456789z', Date.UTC(2026, 10, 23, 19, 21, 47, 123)],
    ['2026-11-23T20:21:47+01:00', Date.UTC(2026, 10, 23, 19, 21, 47)],
    ['2026-11-23T14:51:47-04:30', Date.UTC(2026, 10, 23, 19, 21, 47)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
    ['0050-01-01T00:00:00Z', -60589296000000],
  ])('parses %s', (text, millis) => {
    expect(parseDateTime(text)).toBe(millis);
  });

  it.each([
    '2026-11-23',
    '2026-11-23T19:21:47',
    '2026-11-23 19:21:47Z',
    '2026-11-23T19:21Z',
    '2026-13-01T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-11-23T24:00:00Z',
    '2026-11-23T23:59:60Z',
    '2026-11-23T19:21:47+0100',
    '2026-11-23T19:21:47+24:00',
    '2026-11-23T19:21:47.Z',
    ' 2026-11-23T19:21:47Z',
    '2026-11-23T19:21:47Z\n',
    '１２３４-11-23T19:21:47Z',
    'Mon, 23 Nov 2026 19:21:47 GMT',
  ])('rejects %j', (text) => {
    expect(parseDateTime(text)).toBeUndefined();
    expect(isDateTime(text)).toBe(false);
  });

  it('formats a compact, fixed-width, sortable UTC stamp', () => {
    expect(compactUtc(Date.UTC(2026, 10, 23, 19, 21, 47, 999))).toBe('20261123t192147');
    expect(compactUtc(Date.UTC(2026, 0, 2, 3, 4, 5))).toBe('20260102t030405');
    expect(compactUtc(parseDateTime('2026-11-23T20:21:47+01:00')!)).toBe('20261123t192147');
  });
});
