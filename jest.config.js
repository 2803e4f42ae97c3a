/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: false }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 60000,
  // The secret scan (issue 9 item 4): every test process captures its output and responses, the teardown scans
  // them and fails the run if a secret leaked (test/support/secret-scan*.ts).
  globalSetup: '<rootDir>/test/support/secret-scan.global-setup.ts',
  globalTeardown: '<rootDir>/test/support/secret-scan.global-teardown.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/secret-scan.setup.ts'],
};
