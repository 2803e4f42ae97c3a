import { plainToInstance, Type } from 'class-transformer';
import {
  IsDefined,
  IsEmail,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
  validateSync,
  type ValidationError,
} from 'class-validator';
import type { OrderRequest, Violation } from '../host/hooks';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../common/error-codes';
import { inputProblem } from '../common/http/input-guard';
import { IsInstant } from '../common/http/validators';

/** The most licenses one order item may ask for, whatever the offer allows: a guard against a typo. */
export const MAX_ORDER_QUANTITY = 10_000;

const ID = { min: 1, max: 100 } as const;

class MoneyDto {
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  amountMinor: number;

  @Matches(/^[A-Z]{3}$/, { message: 'currency must be an upper-case ISO 4217 code' })
  currency: string;
}

/**
 * The end customer. Name, email and country are checked as data Microsoft and the license delivery need (a
 * `CUSTOMER_DATA_MISSING` violation) rather than as malformed input, so the reseller learns what to add.
 */
class OrderCustomerDto {
  @IsString()
  @MinLength(ID.min)
  @MaxLength(ID.max)
  accountId: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  name?: string;

  @IsOptional()
  @IsString()
  @MaxLength(320)
  @IsEmail({}, { message: 'customer.email must be an email address' })
  email?: string;

  @IsOptional()
  @Matches(/^[A-Z]{2}$/, { message: 'customer.country must be an upper-case ISO 3166-1 alpha-2 code' })
  country?: string;

  @IsString()
  @Matches(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, { message: 'customer.locale must be a BCP 47 tag' })
  @MaxLength(20)
  locale: string;

  @IsOptional()
  @IsString()
  @MinLength(ID.min)
  @MaxLength(ID.max)
  resellerAccountId?: string;
}

class BillToDto {
  @IsString()
  @MinLength(ID.min)
  @MaxLength(ID.max)
  accountId: string;
}

class OrderRequestDto {
  @IsString()
  @MinLength(ID.min)
  @MaxLength(ID.max)
  hostOrderId: string;

  @IsString()
  @MinLength(ID.min)
  @MaxLength(ID.max)
  hostOrderItemId: string;

  @IsUUID()
  instanceId: string;

  @IsString()
  @MinLength(ID.min)
  @MaxLength(ID.max)
  productCode: string;

  @IsInt()
  @Min(1)
  @Max(MAX_ORDER_QUANTITY)
  quantity: number;

  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => MoneyDto)
  unitPrice: MoneyDto;

  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => OrderCustomerDto)
  customer: OrderCustomerDto;

  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => BillToDto)
  billTo: BillToDto;

  @IsInstant()
  placedAt: string;
}

/** An order request that passed {@link checkOrderRequest}: every field present with its type. */
export type ValidOrderRequest = OrderRequest & {
  customer: OrderRequest['customer'] & { name: string; email: string; country: string };
};

/**
 * Checks the shape of an `order` hook input (it comes from host code, so it is checked like any HTTP body:
 * unknown fields refused). Answers the violations, or the request when it is whole.
 */
export function checkOrderRequest(
  input: unknown,
): { ok: true; request: ValidOrderRequest } | { ok: false; violations: Violation[] } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return {
      ok: false,
      violations: [violation(EsdErrorCode.ORDER_INVALID, 'The order item must be an object.')],
    };
  }
  const found = inputProblem(input);
  if (found) {
    return {
      ok: false,
      violations: [
        violation(
          EsdErrorCode.ORDER_INVALID,
          `${ERROR_DESCRIPTIONS.ORDER_INVALID.message} ${found.field || 'the order item'} ${found.problem}.`,
        ),
      ],
    };
  }
  const dto = plainToInstance(OrderRequestDto, input);
  const errors = validateSync(dto, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });
  if (errors.length > 0) {
    return {
      ok: false,
      violations: [
        violation(
          EsdErrorCode.ORDER_INVALID,
          `${ERROR_DESCRIPTIONS.ORDER_INVALID.message} ${flatten(errors).join('; ')}.`,
        ),
      ],
    };
  }
  const missing = (['name', 'email', 'country'] as const).filter((field) => {
    const value = dto.customer[field];
    // Optional in the DTO, so null passes it: a null detail is as missing as an absent one.
    return typeof value !== 'string' || value.trim() === '';
  });
  if (missing.length > 0) {
    return {
      ok: false,
      violations: [
        violation(
          EsdErrorCode.CUSTOMER_DATA_MISSING,
          `The end customer's ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing: Microsoft issues the license to a named customer in a country, and the product key is sent by email. Add ${missing.length === 1 ? 'it' : 'them'} to the customer account.`,
        ),
      ],
    };
  }
  return { ok: true, request: input as ValidOrderRequest };
}

export function violation(code: EsdErrorCode, message?: string): Violation {
  return { code, message: message ?? ERROR_DESCRIPTIONS[code].message };
}

function flatten(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((e) => {
    const path = `${prefix}${e.property}`;
    const own = Object.values(e.constraints ?? {}).map((m) =>
      m.startsWith(path) ? m : m.startsWith(e.property) ? `${prefix}${m}` : `${path}: ${m}`,
    );
    return [...own, ...flatten(e.children ?? [], `${path}.`)];
  });
}
