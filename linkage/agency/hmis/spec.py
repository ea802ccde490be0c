"""The HUD HMIS CSV specification, as far as linkage relies on it: the files' columns and the
codes the rules read, in one place (docs/hmis.md explains them).

The agency's side reads exports with these (:mod:`linkage.agency.hmis.client`,
:mod:`linkage.agency.hmis.enrollments`, :mod:`linkage.agency.normalize`); the synthetic
generator writes exports with them, so what it writes is what an agency's reader expects.
Column lists are FY2024's; FY2026 differs, in the columns an encoder reads, only by ``Sex``.
"""

from __future__ import annotations

#: The columns that make a CSV a Client.csv, whatever else it holds.
CLIENT_SIGNATURE = ("PersonalID", "FirstName", "LastName", "NameDataQuality", "DOB", "SSN")
QUALITY_COLUMNS = ("NameDataQuality", "SSNDataQuality", "DOBDataQuality")

#: HMIS data-quality codes: 1 full, 2 partial, 8 doesn't know, 9 prefers not to answer,
#: 99 not collected. An empty code is read as 99.
QUALITY_CODES = frozenset({"1", "2", "8", "9", "99", ""})
MISSING_CODES = frozenset({"8", "9", "99"})

#: HUD FY2024 living situation / destination codes (Appendix A).
LIVING_SITUATIONS = frozenset(
    {101, 116, 118}
    | {204, 205, 206, 207, 215, 225}
    | {302, 312, 313, 314, 327, 329, 332, 335, 336}
    | {410, 411, 421, 422, 423, 426, 428, 431, 433, 434, 435, 436}
    | {8, 9, 17, 24, 30, 37, 99}
)
PROJECT_TYPES = frozenset({0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14})
#: Being enrolled in these means being homeless: ES (0, 1), TH, outreach, safe haven, day shelter.
HOMELESS_PROJECTS = frozenset({0, 1, 2, 4, 8, 11})
#: Residential: an open enrollment is a bed taken every night (ES entry/exit, TH, safe haven).
RESIDENTIAL_PROJECTS = frozenset({0, 2, 8})
#: Housed from the move-in date: PSH, PH housing only, PH with services, RRH.
HOUSING_PROJECTS = frozenset({3, 9, 10, 13})
#: Living situation / destination: a place not meant for habitation (the street).
STREET = 116
#: Destination: deceased.
DECEASED = 24

#: The FY2024 files' columns, in the specification's order.
FY2024_CLIENT = [
    "PersonalID",
    "FirstName",
    "MiddleName",
    "LastName",
    "NameSuffix",
    "NameDataQuality",
    "SSN",
    "SSNDataQuality",
    "DOB",
    "DOBDataQuality",
    "AmIndAKNative",
    "Asian",
    "BlackAfAmerican",
    "HispanicLatinaeo",
    "MidEastNAfrican",
    "NativeHIPacific",
    "White",
    "RaceNone",
    "AdditionalRaceEthnicity",
    "Woman",
    "Man",
    "NonBinary",
    "CulturallySpecific",
    "Transgender",
    "Questioning",
    "DifferentIdentity",
    "GenderNone",
    "DifferentIdentityText",
    "VeteranStatus",
    "YearEnteredService",
    "YearSeparated",
    "WorldWarII",
    "KoreanWar",
    "VietnamWar",
    "DesertStorm",
    "AfghanistanOEF",
    "IraqOIF",
    "IraqOND",
    "OtherTheater",
    "MilitaryBranch",
    "DischargeStatus",
    "DateCreated",
    "DateUpdated",
    "UserID",
    "DateDeleted",
    "ExportID",
]

FY2024_ENROLLMENT = [
    "EnrollmentID",
    "PersonalID",
    "ProjectID",
    "EntryDate",
    "HouseholdID",
    "RelationshipToHoH",
    "EnrollmentCoC",
    "LivingSituation",
    "RentalSubsidyType",
    "LengthOfStay",
    "LOSUnderThreshold",
    "PreviousStreetESSH",
    "DateToStreetESSH",
    "TimesHomelessPastThreeYears",
    "MonthsHomelessPastThreeYears",
    "DisablingCondition",
    "DateOfEngagement",
    "MoveInDate",
    "DateOfPATHStatus",
    "ClientEnrolledInPATH",
    "ReasonNotEnrolled",
    "PercentAMI",
    "ReferralSource",
    "CountOutreachReferralApproaches",
    "DateOfBCPStatus",
    "EligibleForRHY",
    "ReasonNoServices",
    "RunawayYouth",
    "SexualOrientation",
    "SexualOrientationOther",
    "FormerWardChildWelfare",
    "ChildWelfareYears",
    "ChildWelfareMonths",
    "FormerWardJuvenileJustice",
    "JuvenileJusticeYears",
    "JuvenileJusticeMonths",
    "UnemploymentFam",
    "MentalHealthDisorderFam",
    "PhysicalDisabilityFam",
    "AlcoholDrugUseDisorderFam",
    "InsufficientIncome",
    "IncarceratedParent",
    "VAMCStation",
    "TargetScreenReqd",
    "TimeToHousingLoss",
    "AnnualPercentAMI",
    "LiteralHomelessHistory",
    "ClientLeaseholder",
    "HOHLeaseholder",
    "SubsidyAtRisk",
    "EvictionHistory",
    "CriminalRecord",
    "IncarceratedAdult",
    "PrisonDischarge",
    "SexOffender",
    "DisabledHoH",
    "CurrentPregnant",
    "SingleParent",
    "DependentUnder6",
    "HH5Plus",
    "CoCPrioritized",
    "HPScreeningScore",
    "ThresholdScore",
    "TranslationNeeded",
    "PreferredLanguage",
    "PreferredLanguageDifferent",
    "DateCreated",
    "DateUpdated",
    "UserID",
    "DateDeleted",
    "ExportID",
]

FY2024_PROJECT = [
    "ProjectID",
    "OrganizationID",
    "ProjectName",
    "OperatingStartDate",
    "OperatingEndDate",
    "ContinuumProject",
    "ProjectType",
    "HousingType",
    "RRHSubType",
    "ResidentialAffiliation",
    "TargetPopulation",
    "HOPWAMedAssistedLivingFac",
    "PITCount",
    "DateCreated",
    "DateUpdated",
    "UserID",
    "DateDeleted",
    "ExportID",
]
FY2024_EXPORT = [
    "ExportID",
    "SourceType",
    "SourceID",
    "SourceName",
    "SourceContactFirst",
    "SourceContactLast",
    "SourceContactPhone",
    "SourceContactExtension",
    "SourceContactEmail",
    "ExportDate",
    "ExportStartDate",
    "ExportEndDate",
    "SoftwareName",
    "SoftwareVersion",
    "CSVVersion",
    "ExportPeriodType",
    "ExportDirective",
    "HashStatus",
    "ImplementationID",
]
EXIT_COLUMNS = [
    "ExitID",
    "EnrollmentID",
    "PersonalID",
    "ExitDate",
    "Destination",
    "DestinationSubsidyType",
    "OtherDestination",
    "DateCreated",
    "DateUpdated",
    "UserID",
    "DateDeleted",
    "ExportID",
]
SERVICES_COLUMNS = [
    "ServicesID",
    "EnrollmentID",
    "PersonalID",
    "DateProvided",
    "RecordType",
    "TypeProvided",
    "OtherTypeProvided",
    "MovingOnOtherType",
    "SubTypeProvided",
    "FAAmount",
    "FAStartDate",
    "FAEndDate",
    "ReferralOutcome",
    "DateCreated",
    "DateUpdated",
    "UserID",
    "DateDeleted",
    "ExportID",
]
CLS_COLUMNS = [
    "CurrentLivingSitID",
    "EnrollmentID",
    "PersonalID",
    "InformationDate",
    "CurrentLivingSituation",
    "CLSSubsidyType",
    "VerifiedBy",
    "LeaveSituation14Days",
    "SubsequentResidence",
    "ResourcesToObtain",
    "LeaseOwn60Day",
    "MovedTwoOrMore",
    "LocationDetails",
    "DateCreated",
    "DateUpdated",
    "UserID",
    "DateDeleted",
    "ExportID",
]

assert all(c in FY2024_CLIENT for c in CLIENT_SIGNATURE)
