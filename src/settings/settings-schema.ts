import { ApiProperty, ApiSchema, generateSchema } from '@nestjs/swagger';
import type { Type } from '@nestjs/common';
import {
  CERTIFICATE_UPLOAD_FORMS,
  CreateInstanceDto,
  MARKET_FIELDS,
  StageTwoDto,
  UpdateInstanceDto,
} from './instance.dto';

type Schema = Record<string, unknown>;

/** One stage of the Applications Setup form. */
export interface SettingsFormStage {
  /** `connection` (stage 1) or `credentials` (stage 2). */
  name: 'connection' | 'credentials';
  title: string;
  /** The route that takes this stage's fields. */
  route: string;
  schema: Schema;
}

/** `GET /esd/settings/schema` — the form of both stages and the whole PATCH body, with secrets marked. */
export interface SettingsFormSchema {
  $schema: string;
  title: string;
  stages: SettingsFormStage[];
  /** The body PATCH takes: any subset of both stages, plus `disabled`. */
  update: Schema;
  /** Dotted paths of the write-only secret fields (also marked `writeOnly` and `x-secret` in place). */
  secretFields: string[];
}

/**
 * Turns the OpenAPI schema @nestjs/swagger builds from a DTO class (the same `@ApiProperty` metadata the
 * field builders in instance.dto.ts attach beside the validation rules) into a self-contained JSON Schema:
 * references inlined, unknown fields refused as the validation pipe refuses them.
 */
function schemaOf(type: Type<unknown>): Schema {
  const { schema, schemas } = generateSchema(type);
  return close(inline(schema, schemas as Record<string, Schema>));
}

function inline(node: unknown, schemas: Record<string, Schema>): Schema {
  if (Array.isArray(node)) return node.map((n) => inline(n, schemas)) as unknown as Schema;
  if (typeof node !== 'object' || node === null) return node as Schema;
  const ref = (node as { $ref?: unknown }).$ref;
  if (typeof ref === 'string') {
    const name = ref.split('/').pop()!;
    return inline(schemas[name], schemas);
  }
  const { allOf, ...rest } = node as { allOf?: unknown[] };
  // Swagger wraps a described reference as `allOf: [ref]`; a form wants the object itself.
  if (Array.isArray(allOf) && allOf.length === 1) {
    return { ...inline(allOf[0], schemas), ...inline(rest, schemas) };
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, inline(v, schemas)]));
}

/** Objects refuse unknown fields; the certificate object takes exactly one of its two forms. */
function close(schema: Schema): Schema {
  if (schema.type !== 'object' || typeof schema.properties !== 'object' || schema.properties === null) {
    return schema;
  }
  const properties = Object.fromEntries(
    Object.entries(schema.properties as Record<string, Schema>).map(([k, v]) => [k, close(v)]),
  );
  const out: Schema = { ...schema, properties, additionalProperties: false };
  const names = Object.keys(properties);
  const isUpload = CERTIFICATE_UPLOAD_FORMS.flat().every((f) => names.includes(f));
  if (isUpload) {
    delete out.required;
    out.oneOf = CERTIFICATE_UPLOAD_FORMS.map((form) => ({
      required: [...form],
      not: {
        anyOf: CERTIFICATE_UPLOAD_FORMS.filter((other) => other !== form)
          .flat()
          .map((f) => ({ required: [f] })),
      },
    }));
  }
  if (MARKET_FIELDS.every((f) => names.includes(f))) {
    out.dependencies = Object.fromEntries(
      MARKET_FIELDS.map((f) => [f, MARKET_FIELDS.filter((other) => other !== f)]),
    );
  }
  return out;
}

function secretPaths(schema: Schema, prefix = ''): string[] {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  return Object.entries(properties).flatMap(([name, property]) => {
    const path = prefix ? `${prefix}.${name}` : name;
    return [...(property['x-secret'] === true ? [path] : []), ...secretPaths(property, path)];
  });
}

@ApiSchema({ name: 'SettingsFormStage' })
class SettingsFormStageDto implements SettingsFormStage {
  @ApiProperty({ enum: ['connection', 'credentials'] }) name: 'connection' | 'credentials';
  @ApiProperty() title: string;
  @ApiProperty({ example: 'POST /esd/instances' }) route: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: "The stage's fields (JSON Schema).",
  })
  schema: Schema;
}

/** {@link SettingsFormSchema} as an OpenAPI schema. */
@ApiSchema({ name: 'SettingsFormSchema' })
export class SettingsFormSchemaDto implements SettingsFormSchema {
  @ApiProperty({ example: 'http://json-schema.org/draft-07/schema#' }) $schema: string;
  @ApiProperty() title: string;
  @ApiProperty({ type: () => [SettingsFormStageDto] }) stages: SettingsFormStageDto[];
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The body PATCH takes: any subset of both stages, plus `disabled` (JSON Schema).',
  })
  update: Schema;
  @ApiProperty({ type: [String], description: 'Dotted paths of the write-only secret fields.' })
  secretFields: string[];
}

let cached: SettingsFormSchema | undefined;

/** Built once from the DTO classes; the metadata does not change at run time. */
export function settingsFormSchema(routePrefix = 'esd'): SettingsFormSchema {
  if (cached && cached.stages[0].route.includes(`/${routePrefix}/`)) return cached;
  const connection = schemaOf(CreateInstanceDto);
  const credentials = schemaOf(StageTwoDto);
  const update = schemaOf(UpdateInstanceDto);
  cached = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Microsoft ESD — Applications Setup instance',
    stages: [
      {
        name: 'connection',
        title: 'Connection',
        route: `POST /${routePrefix}/instances`,
        schema: connection,
      },
      {
        name: 'credentials',
        title: 'Certificate and market (after the connection is saved)',
        route: `PATCH /${routePrefix}/instances/:id`,
        schema: credentials,
      },
    ],
    update,
    secretFields: [...new Set([...secretPaths(connection), ...secretPaths(credentials)])],
  };
  return cached;
}
