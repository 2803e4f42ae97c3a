import { isISO8601, ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * An ISO 8601 date or date-time the code can turn into a `Date`. `IsISO8601` alone also passes week and ordinal
 * dates (`2026-W05-1`, `2026-031`), which `new Date()` cannot read: the resulting Invalid Date would reach a query.
 */
export function IsInstant(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isInstant',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' &&
          isISO8601(value, { strict: true }) &&
          !Number.isNaN(new Date(value).getTime()),
        defaultMessage: () =>
          '$property must be an ISO 8601 date or date and time, such as 2026-01-31 or 2026-01-31T12:00:00Z',
      },
    },
    options,
  );
}
