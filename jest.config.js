/** Unit, template and twin tests. The twin tests start moto_server once per file. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 120000,
  setupFiles: ['<rootDir>/twin/src/polyfills.ts'],
};
