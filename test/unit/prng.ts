/** A small seeded PRNG (mulberry32) for property-style tests: reproducible, no dependency. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  const string = (alphabet: string, min: number, max: number) =>
    Array.from({ length: int(min, max) }, () => pick([...alphabet])).join('');
  return { next, int, pick, string };
}
