"""Request and response shapes of the A3 migration API (reference `a3-correspondence.md` §1).

Snapshot: Altinn/altinn-correspondence at the parent of 9f4c2ef8 (the commit before PR #2069
removed the migration code); every real path below is under `src/Altinn.Correspondence.API/`.

Input binding mimics ASP.NET's System.Text.Json "web" defaults (§1.1, `Program.cs`
`AddJsonOptions(... new JsonStringEnumConverter())`): property names match case-insensitively,
unknown properties are ignored, enums accept names (any case), numeric strings or any 32-bit
integer code, also one the enum does not define (`_parse_enum`), and a C#-`required` property that
is missing fails deserialization (400) while an explicit JSON null passes it. Optional values
that the real mapper or handler dereferences without a null check (sender, language,
requestedPublishTime) are optional here too, so that their absence crashes it as the real one did
(500).

The DataAnnotations of the models (`[Required]`, `[StringLength]`, `[ISO6391]`,
`[PropertyList]`, `[ExternalReferences]`, `[OrganizationNumberOptional]`) run after binding, in
`annotation_errors` / `forwarding_errors`, with ASP.NET's ModelState keys (C# property paths)
and default messages; `problems.validation_problem` renders them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import IntEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

MIN_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""C#'s default(DateTimeOffset): the value of an omitted, non-required DateTimeOffset."""
INT32 = (-(2**31), 2**31 - 1)


class MigrateStatus(IntEnum):
    """`MigrateCorrespondenceStatusExt` (§1.3, `Models/Enums/MigrateCorrespondenceStatusExt.cs`).

    7, 8, 13, 14 become delete events. The names are used for the status texts; a request may
    carry a code outside this set (see `_parse_enum`), whose text is then the bare number.
    """

    Initialized = 0
    ReadyForPublish = 1
    Published = 2
    Fetched = 3
    Read = 4
    Replied = 5
    Confirmed = 6
    PurgedByRecipient = 7
    PurgedByAltinn = 8
    Archived = 9
    Reserved = 10
    Failed = 11
    AttachmentsDownloaded = 12
    SoftDeletedByRecipient = 13
    RestoredByRecipient = 14


DELETE_EVENT_TYPE: dict[int, int] = {
    MigrateStatus.PurgedByAltinn: 1,  # HardDeletedByServiceOwner
    MigrateStatus.PurgedByRecipient: 2,  # HardDeletedByRecipient
    MigrateStatus.SoftDeletedByRecipient: 3,
    MigrateStatus.RestoredByRecipient: 4,
}
"""Migration status code → `CorrespondenceDeleteEventType` (§1.3)."""

STATUS_OF_DELETE_EVENT = {v: k for k, v in DELETE_EVENT_TYPE.items()}


class NotificationChannelExt(IntEnum):
    """`NotificationChannelExt` (§1.3)."""

    Email = 0
    Sms = 1
    EmailPreferred = 2
    SmsPreferred = 3
    EmailAndSms = 4


class ReferenceTypeExt(IntEnum):
    """`ReferenceTypeExt` (§1.3)."""

    Generic = 0
    AltinnAppInstance = 1
    AltinnBrokerFileTransfer = 2
    DialogportenDialogId = 3
    DialogportenProcessId = 4
    DialogportenTransmissionId = 5
    DialogportenTransmissionType = 6


class TransmissionTypeExt(IntEnum):
    """`Models/Enums/TransmissionTypeExt.cs`: the valid values of a reference of type 6."""

    Information = 1
    Acceptance = 2
    Rejection = 3
    Request = 4
    Alert = 5
    Decision = 6
    Submission = 7
    Correction = 8


def status_name(code: int) -> str:
    """C# `enum.ToString()`: the member name, or the bare number for an undefined code."""
    try:
        return MigrateStatus(code).name
    except ValueError:
        return str(code)


def _parse_enum(enum: type[IntEnum], value: Any) -> int:
    """Read one enum value as System.Text.Json's `JsonStringEnumConverter` (integers allowed).

    Accepts a JSON integer in the int32 range (defined in `enum` or not: the converter does
    not check `Enum.IsDefined`), a member name in any case, or a string holding an integer.

    Raises:
        ValueError: anything else (System.Text.Json fails deserialization: 400).
    """
    target = f"The JSON value could not be converted to {enum.__name__}."
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(target)
    if isinstance(value, str):
        by_name = {m.name.lower(): m.value for m in enum}
        if value.strip().lower() in by_name:
            return by_name[value.strip().lower()]
        if not re.fullmatch(r"\s*[+-]?\d+\s*", value):
            raise ValueError(target)
        value = int(value)
    if not INT32[0] <= value <= INT32[1]:
        raise ValueError(target)
    return value


def _enum_validator(enum: type[IntEnum]) -> BeforeValidator:
    return BeforeValidator(lambda v: _parse_enum(enum, v))


def _enum_schema(enum: type[IntEnum]) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "enum": [m.value for m in enum]},
                {"type": "string", "enum": [m.name for m in enum]},
            ],
            "title": enum.__name__,
        }
    )


MigrateStatusCode = Annotated[int, _enum_validator(MigrateStatus), _enum_schema(MigrateStatus)]
"""A `MigrateCorrespondenceStatusExt` property bound as `_parse_enum` describes."""
NotificationChannelCode = Annotated[
    int, _enum_validator(NotificationChannelExt), _enum_schema(NotificationChannelExt)
]
"""A `NotificationChannelExt` property bound as `_parse_enum` describes."""
ReferenceTypeCode = Annotated[
    int, _enum_validator(ReferenceTypeExt), _enum_schema(ReferenceTypeExt)
]
"""A `ReferenceTypeExt` property bound as `_parse_enum` describes."""


class ApiModel(BaseModel):
    """Base: case-insensitive property names and unknown properties ignored (§1.1)."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _bind_like_system_text_json(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        by_lower = {name.lower(): name for name in cls.model_fields}
        return {by_lower.get(str(key).lower(), key): value for key, value in data.items()}


class StatusEventExt(ApiModel):
    """`Models/MigrateCorrespondenceStatusEventExt.cs`.

    Only `eventUserPartyUuid` is C#-`required`; an omitted `status` is `default(enum)` = 0
    (Initialized) and an omitted `statusChanged` is `default(DateTimeOffset)` (`MIN_TIME`), as
    the real properties have no `required` modifier and no DataAnnotation. `status` takes any
    int32 code (`_parse_enum`); the mapper (`Mappers/MigrateCorrespondenceMapper.cs`) casts it to
    `CorrespondenceStatus` unchecked and stores it.
    """

    status: MigrateStatusCode = 0
    statusText: str | None = ""
    statusChanged: AwareDatetime = MIN_TIME
    eventUserUuid: UUID | None = None
    eventUserPartyUuid: UUID


class NotificationExt(ApiModel):
    """`Models/MigrateCorrespondenceNotificationExt.cs`: every property C#-`required`.

    `notificationAddress` is a reference type, so an explicit null passes binding; the channel
    takes any int32 code (`_parse_enum`).
    """

    notificationChannel: NotificationChannelCode
    notificationSent: AwareDatetime
    altinn2NotificationId: int = Field(ge=INT32[0], le=INT32[1])
    notificationAddress: str | None
    isReminder: bool


class ForwardingEventExt(ApiModel):
    """`Models/MigrateCorrespondenceForwardingEventExt.cs` (limits in `forwarding_errors`)."""

    forwardedOnDate: AwareDatetime
    forwardedByPartyUuid: UUID
    forwardedByUserId: int = 0
    forwardedByUserUuid: UUID = UUID(int=0)
    forwardedToUserId: int | None = None
    forwardedToUserUuid: UUID | None = None
    forwardingText: str | None = Field(None, json_schema_extra={"maxLength": 4000})
    forwardedToEmail: str | None = Field(None, json_schema_extra={"maxLength": 1000})
    mailboxSupplier: str | None = None


class ContentExt(ApiModel):
    """`Models/InitializeCorrespondenceContentExt.cs`; `attachments` is ignored by migration.

    `messageTitle` and `messageBody` are C#-`required`: omitting them fails deserialization
    (400), an explicit null passes it and fails `[Required]` (`annotation_errors`, 400). The
    length limits (PR #2012) are checked there too.
    """

    language: str | None = None
    messageTitle: str | None = Field(json_schema_extra={"minLength": 1, "maxLength": 255})
    messageSummary: str | None = Field(None, json_schema_extra={"maxLength": 255})
    messageBody: str | None = Field(json_schema_extra={"minLength": 1, "maxLength": 30000})


class ExternalReferenceExt(ApiModel):
    """`Models/ExternalReferenceExt.cs`: both C#-`required` (a null value passes binding)."""

    referenceValue: str | None
    referenceType: ReferenceTypeCode


class ReplyOptionExt(ApiModel):
    """`Models/CorrespondenceReplyOptionExt.cs`: `linkURL` C#-`required` (null passes binding)."""

    linkURL: str | None
    linkText: str | None = None


RESOURCE_ID_PATTERN = r"^(urn:altinn:resource:)?[^:]{1,255}$"
ORG_PATTERN = r"^(urn:altinn:organization:identifier-no:\d{9}|0192:\d{9})$"
"""`ValidationAttributes/OrganizationNumberOptionalAttribute.cs` (`mailboxSupplier`); the
migration attachment's `sender` uses it too. `BaseCorrespondenceExt.sender` has no format check."""


class BaseCorrespondenceExt(ApiModel):
    """`Models/BaseCorrespondenceExt.cs` with the DataAnnotations that apply to migration (§1.5.1).

    `sender` carries no validation attribute (only `[Obsolete]`): any string binds, and the
    mapper resolves ServiceOwnerId from it (`Application/Helpers/ServiceOwnerHelper.cs`, null
    when unknown). `externalReferences` and `propertyList` are checked in `annotation_errors`.
    """

    resourceId: str = Field(min_length=1, max_length=255, pattern=RESOURCE_ID_PATTERN)
    sender: str | None = None
    sendersReference: str = Field(min_length=1, max_length=4096)
    messageSender: str | None = Field(None, max_length=255)
    content: ContentExt | None = None
    requestedPublishTime: AwareDatetime | None = None
    dueDateTime: AwareDatetime | None = None
    externalReferences: list[ExternalReferenceExt] | None = None
    propertyList: dict[str, str] | None = None
    replyOptions: list[ReplyOptionExt] | None = None
    ignoreReservation: bool | None = None
    isConfirmationNeeded: bool = False
    isConfidential: bool = False


class CorrespondenceDataExt(ApiModel):
    """`Models/MigrateInitializeCorrespondencesExt.cs`; `idempotentKey`, `published` ignored.

    `recipients` is `[Required] required List<string>`: a null element binds (the mapper's
    `ToLowerInvariant()` on it then crashes, 500).
    """

    correspondence: BaseCorrespondenceExt
    recipients: list[str | None]
    existingAttachments: list[UUID] | None = None


class MigrateCorrespondenceExt(ApiModel):
    """`MigrateCorrespondenceExt`, the body of `POST /migration/correspondence`."""

    correspondenceData: CorrespondenceDataExt
    altinn2CorrespondenceId: int = Field(ge=INT32[0], le=INT32[1])
    eventHistory: list[StatusEventExt] = Field(default_factory=list)
    notificationHistory: list[NotificationExt] = Field(default_factory=list)
    forwardingHistory: list[ForwardingEventExt] = Field(default_factory=list)
    IsMigrating: bool = False
    created: AwareDatetime | None = None
    partyId: int = 0
    makeAvailable: bool = False


class MakeAvailableRequestExt(ApiModel):
    """`MakeCorrespondenceAvailableRequestExt` (§1.6)."""

    correspondenceId: UUID | None = None
    correspondenceIds: list[UUID] | None = None
    createEvents: bool = False
    batchSize: int | None = None
    asyncProcessing: bool = False
    createdFrom: AwareDatetime | None = None
    createdTo: AwareDatetime | None = None


class SyncStatusRequestExt(ApiModel):
    """`SyncCorrespondenceStatusEventRequestExt` (§1.7)."""

    correspondenceId: UUID
    syncedStatusEvents: list[StatusEventExt] = Field(min_length=1)


class SyncForwardingRequestExt(ApiModel):
    """`SyncCorrespondenceForwardingEventRequestExt` (§1.7)."""

    correspondenceId: UUID
    syncedForwardingEvents: list[ForwardingEventExt] = Field(min_length=1)


class SyncNotificationRequestExt(ApiModel):
    """`SyncCorrespondenceNotificationEventRequestExt` (§1.7)."""

    correspondenceId: UUID
    syncedNotificationEvents: list[NotificationExt] = Field(min_length=1)


class AttachmentStatusExt(BaseModel):
    """One entry of `attachmentStatuses`; `status` is always "Initialized" (§1.5.2)."""

    attachmentId: UUID
    status: str = "Initialized"


class CorrespondenceMigrationStatusExt(BaseModel):
    """Response of `POST /migration/correspondence` (§1.5.2)."""

    altinn2CorrespondenceId: int
    correspondenceId: UUID
    attachmentStatuses: list[AttachmentStatusExt] | None = None
    dialogId: str | None = None


class MakeAvailableStatusExt(BaseModel):
    """One entry of the make-available response (§1.6)."""

    correspondenceId: UUID
    dialogId: str | None = None
    error: str | None = None
    ok: bool


class MakeAvailableResponseExt(BaseModel):
    """Response of `POST /migration/makemigratedcorrespondenceavailable`."""

    statuses: list[MakeAvailableStatusExt]


def utc_second(value: datetime) -> datetime:
    """`value` converted to UTC and truncated to the whole second (the de-dup key, §1.5.3)."""
    return value.astimezone(UTC).replace(microsecond=0)


# --- DataAnnotations (run after binding, as ASP.NET's [ApiController] model validation) ------


def utf16_length(text: str) -> int:
    """`string.Length` in .NET: UTF-16 code units (a character above U+FFFF counts 2).

    `[StringLength]` and the other attributes measure this, not Python's code points.
    """
    return len(text.encode("utf-16-le")) // 2


def _required(key: str, value: str | None) -> list[tuple[str, str]]:
    """`[Required]` (AllowEmptyStrings false): null, empty and whitespace-only fail."""
    name = key.rsplit(".", 1)[-1]
    if value is None or not value.strip():
        return [(key, f"The {name} field is required.")]
    return []


def _string_length(
    key: str, value: str | None, maximum: int, minimum: int = 0
) -> list[tuple[str, str]]:
    """`[StringLength(maximum, MinimumLength = minimum)]`: null passes; lengths in UTF-16."""
    name = key.rsplit(".", 1)[-1]
    if value is None or minimum <= utf16_length(value) <= maximum:
        return []
    if minimum:
        return [
            (
                key,
                f"The field {name} must be a string with a minimum length of {minimum} "
                f"and a maximum length of {maximum}.",
            )
        ]
    return [(key, f"The field {name} must be a string with a maximum length of {maximum}.")]


def _iso6391(key: str, value: str | None) -> list[tuple[str, str]]:
    """`ISO6391Attribute` (`Models/InitializeCorrespondenceContentExt.cs`).

    Null or whitespace passes (the handler decides: null crashes, others give 1023); any other
    value must be 2 UTF-16 units long, and "iv" (InvariantCulture's TwoLetterISOLanguageName)
    is refused. Every other 2-character string passes to the handler.
    """
    if value is None or not value.strip():
        return []
    if utf16_length(value) != 2:
        return [(key, "The ISO6391 field must be exactly 2 characters long!")]
    if value == "iv":
        return [(key, "The language code must be ISO6391 compliant!")]
    return []


def _property_list(key: str, props: dict[str, str] | None) -> list[tuple[str, str]]:
    """`PropertyListAttribute` (`Models/BaseCorrespondenceExt.cs`): first failure only."""
    if props is None:
        return []
    if len(props) > 10:
        return [(key, "propertyList can contain at most 10 properties")]
    for k, v in props.items():
        if utf16_length(k) > 50:
            return [
                (
                    key,
                    f"propertyList Key can not be longer than 50. "
                    f"Length:{utf16_length(k)}, KeyValue:{k}",
                )
            ]
        if utf16_length(v) > 300:
            return [
                (
                    key,
                    f"propertyList Value can not be longer than 300. "
                    f"Length:{utf16_length(v)}, Value:{v}",
                )
            ]
    return []


def _transmission_type(value: str | None) -> bool:
    """`Enum.TryParse<TransmissionTypeExt>(value, ignoreCase: true)` and `Enum.IsDefined`."""
    if value is None:
        return False
    text = value.strip()
    names = {m.name.lower() for m in TransmissionTypeExt}
    if text.lower() in names:
        return True
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text) in {m.value for m in TransmissionTypeExt}
    return False


def _external_references(
    key: str, refs: Sequence[ExternalReferenceExt] | None
) -> list[tuple[str, str]]:
    """`ExternalReferencesAttribute` (`Models/BaseCorrespondenceExt.cs`).

    At most 10; no DialogportenTransmissionId (5); the value of a DialogportenTransmissionType
    (6) reference must name a `TransmissionTypeExt`, checked only when exactly one such
    reference is present (as the real attribute does).
    """
    if refs is None:
        return []
    if len(refs) > 10:
        return [(key, "externalReferences can contain at most 10 references")]
    if any(r.referenceType == ReferenceTypeExt.DialogportenTransmissionId for r in refs):
        return [(key, "Cannot initialize a correspondence with pre-existing transmission defined")]
    typed = [r for r in refs if r.referenceType == ReferenceTypeExt.DialogportenTransmissionType]
    if len(typed) == 1 and not _transmission_type(typed[0].referenceValue):
        return [
            (key, "DialogportenTransmissionType referenceValue must be a valid transmission type")
        ]
    return []


MAILBOX_SUPPLIER_MESSAGE = (
    "Organization numbers should be on the format "
    "'urn:altinn:organization:identifier-no:organizationnumber' or the format "
    "countrycode:organizationnumber, for instance 0192:910753614"
)
"""The ErrorMessage on `mailboxSupplier` (`Models/MigrateCorrespondenceForwardingEventExt.cs`)."""


def forwarding_errors(prefix: str, items: Sequence[ForwardingEventExt]) -> list[tuple[str, str]]:
    """DataAnnotations of `MigrateCorrespondenceForwardingEventExt` for each of `items`.

    `forwardingText` ≤ 4000 and `forwardedToEmail` ≤ 1000 (`[StringLength]`); `mailboxSupplier`
    null or `0192:`/org-URN plus 9 digits
    (`ValidationAttributes/OrganizationNumberOptionalAttribute.cs`).

    Args:
        prefix: the ModelState key of the list, e.g. `ForwardingHistory` or `SyncedEvents`.
        items: the bound events.

    Returns:
        (ModelState key, message) pairs; empty when valid.
    """
    errors: list[tuple[str, str]] = []
    for i, f in enumerate(items):
        key = f"{prefix}[{i}]"
        errors += _string_length(f"{key}.ForwardingText", f.forwardingText, 4000)
        errors += _string_length(f"{key}.ForwardedToEmail", f.forwardedToEmail, 1000)
        if f.mailboxSupplier is not None and not re.match(ORG_PATTERN, f.mailboxSupplier):
            errors.append((f"{key}.MailboxSupplier", MAILBOX_SUPPLIER_MESSAGE))
    return errors


def annotation_errors(req: MigrateCorrespondenceExt) -> list[tuple[str, str]]:
    """The DataAnnotations errors of a bound `MigrateCorrespondenceExt` (400 when any).

    ASP.NET validates the whole model after binding and before the action runs
    (`Controllers/MigrationController.cs` is an `[ApiController]`; `Program.cs` turns the
    ModelState into `ProblemDetailsHelper.ToValidationProblemResult`). Rules, each from the
    real model file:

    * content (`Models/InitializeCorrespondenceContentExt.cs`, PR #2012): `messageTitle`
      `[Required]`, 1-255; `messageSummary` ≤ 255; `messageBody` `[Required]`, 1-30 000;
      `language` `[ISO6391]`. Lengths are UTF-16 code units (`utf16_length`).
    * `propertyList` and `externalReferences` (`Models/BaseCorrespondenceExt.cs`).
    * `forwardingHistory` (`forwarding_errors`).

    Returns:
        (ModelState key, message) pairs; keys are C# property paths such as
        `CorrespondenceData.Correspondence.Content.MessageTitle`.
    """
    c = req.correspondenceData.correspondence
    base = "CorrespondenceData.Correspondence"
    errors: list[tuple[str, str]] = []
    if c.content is not None:
        ct, key = c.content, f"{base}.Content"
        errors += _iso6391(f"{key}.Language", ct.language)
        errors += _required(f"{key}.MessageTitle", ct.messageTitle)
        errors += _string_length(f"{key}.MessageTitle", ct.messageTitle, 255, 1)
        errors += _string_length(f"{key}.MessageSummary", ct.messageSummary, 255)
        errors += _required(f"{key}.MessageBody", ct.messageBody)
        errors += _string_length(f"{key}.MessageBody", ct.messageBody, 30000, 1)
    errors += _external_references(f"{base}.ExternalReferences", c.externalReferences)
    errors += _property_list(f"{base}.PropertyList", c.propertyList)
    errors += forwarding_errors("ForwardingHistory", req.forwardingHistory)
    return errors
