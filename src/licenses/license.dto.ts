import { IsIn, IsISO8601, IsString, MaxLength, ValidateIf } from 'class-validator';
import { ListQueryDto } from '../settings/instance.dto';
import { LICENSE_STATUSES, PROVISIONING_STATUSES, TOKEN_STATUSES } from './license.entity';

const given = (_o: unknown, value: unknown) => value !== undefined;

/** `GET /licenses` and `GET /my/licenses`: filters on top of the cursor and limit. */
export class LicensesQueryDto extends ListQueryDto {
  @ValidateIf(given)
  @IsIn(LICENSE_STATUSES)
  status?: (typeof LICENSE_STATUSES)[number];

  @ValidateIf(given)
  @IsIn(PROVISIONING_STATUSES)
  provisioningStatus?: (typeof PROVISIONING_STATUSES)[number];

  @ValidateIf(given)
  @IsIn(TOKEN_STATUSES)
  tokenStatus?: (typeof TOKEN_STATUSES)[number];

  @ValidateIf(given)
  @IsString()
  @MaxLength(100)
  customerAccountId?: string;

  /** The ESD offer ID (= the host product code). */
  @ValidateIf(given)
  @IsString()
  @MaxLength(100)
  offerId?: string;

  @ValidateIf(given)
  @IsString()
  @MaxLength(36)
  instanceId?: string;

  /** Purchased at or after (ISO 8601). */
  @ValidateIf(given)
  @IsISO8601({ strict: true })
  purchasedFrom?: string;

  /** Purchased before (ISO 8601). */
  @ValidateIf(given)
  @IsISO8601({ strict: true })
  purchasedTo?: string;
}

/** `POST …/reveal`. */
export interface RevealView {
  licenseId: string;
  productKey: string;
  activationLink: string;
}
