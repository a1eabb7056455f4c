export declare const MAX_DB_INSTANCE_IDENTIFIER_LENGTH: number;
export declare function normaliseDbInstanceIdentifier(raw: unknown): string;
export declare function isDbInstanceIdentifier(id: unknown): id is string;
