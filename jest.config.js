/** Unit, template and twin tests. The twin tests of a worker share one moto_server (reset per file). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 120000,
  setupFiles: ['<rootDir>/twin/src/polyfills.ts'],
};
