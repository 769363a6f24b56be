"""Hue's reference data: categories, step policies, handling units, routing rules, demo users.

Plain constants, no database code, so that the loader, the tests and the docs read one source.
Everything here is a default an admin may change later (DESIGN.md §2: "every deadline is
configuration"); the loader puts the rows named here back to these values when re-run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from reflections.models.enums import CalendarDayKind, HandlingUnitKind, Priority, Role
from reflections.seed.divisions import Division, hue_three_tier, hue_two_tier

# --- Validity of the two editions of the map (DESIGN.md §2) -------------------------------

PROVINCE_VALID_FROM = date(2025, 1, 1)  # Hue became a centrally governed city
THREE_TIER_VALID_FROM = date(2025, 1, 1)
THREE_TIER_VALID_TO = date(2025, 6, 30)  # the district level was abolished on 1 Jul 2025
TWO_TIER_VALID_FROM = date(2025, 7, 1)

PROVINCE_CODE = "46"


@dataclass(frozen=True)
class AdministrativeUnitSpec:
    division: Division
    valid_from: date | None
    valid_to: date | None
    successor: str | None = None  # code of the unit that took its place, where known


def _successor(division: Division, two_tier_codes: frozenset[str]) -> str | None:
    """The two-tier commune that kept a three-tier commune's code: a commune formed on 1 July
    2025 by merging kept the statistical code of one of the communes it was made of, so a
    shared code says where that commune went (40 of the 134). The others and the districts
    have no successor the data knows; an admin may set one."""
    if division.level != "commune" or ".W" not in division.code:
        return None
    code = f"{PROVINCE_CODE}.W{division.code.rsplit('.W', 1)[1]}"
    return code if code in two_tier_codes else None


def _administrative_units() -> tuple[AdministrativeUnitSpec, ...]:
    """Both editions in one table; the province row is shared, so it appears once."""
    two_tier = hue_two_tier()
    two_tier_codes = frozenset(d.code for d in two_tier if d.code != PROVINCE_CODE)
    result: dict[str, AdministrativeUnitSpec] = {}
    for division in hue_three_tier():
        if division.code == PROVINCE_CODE:
            result[division.code] = AdministrativeUnitSpec(division, PROVINCE_VALID_FROM, None)
        else:
            result[division.code] = AdministrativeUnitSpec(
                division,
                THREE_TIER_VALID_FROM,
                THREE_TIER_VALID_TO,
                _successor(division, two_tier_codes),
            )
    for division in two_tier:
        if division.code != PROVINCE_CODE:
            result[division.code] = AdministrativeUnitSpec(division, TWO_TIER_VALID_FROM, None)
    return tuple(result.values())


ADMINISTRATIVE_UNITS: tuple[AdministrativeUnitSpec, ...] = _administrative_units()

TWO_TIER_COMMUNES: tuple[Division, ...] = tuple(
    spec.division
    for spec in ADMINISTRATIVE_UNITS
    if spec.division.level == "commune" and spec.valid_from == TWO_TIER_VALID_FROM
)
THREE_TIER_DISTRICTS: tuple[Division, ...] = tuple(
    spec.division for spec in ADMINISTRATIVE_UNITS if spec.division.level == "district"
)

# --- Categories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CategorySpec:
    code: str
    name_vi: str
    name_en: str
    group: str
    # Lower-case Vietnamese phrases, with diacritics, for the auto-classifier.
    keywords: tuple[str, ...]
    default_priority: Priority = Priority.NORMAL


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "urban_order",
        "Trật tự đô thị",
        "Urban order",
        "urban",
        (
            "lấn chiếm vỉa hè",
            "lấn chiếm lòng đường",
            "vỉa hè",
            "hàng rong",
            "buôn bán",
            "quảng cáo",
            "biển hiệu",
            "băng rôn",
            "để xe",
            "trông giữ xe",
            "ăn xin",
        ),
    ),
    CategorySpec(
        "environment_pollution",
        "Ô nhiễm môi trường",
        "Environment and pollution",
        "environment",
        (
            "ô nhiễm",
            "khói",
            "khói bụi",
            "bụi",
            "mùi hôi",
            "bốc mùi",
            "nước thải",
            "xả thải",
            "hóa chất",
            "cá chết",
            "đốt rác",
        ),
    ),
    CategorySpec(
        "waste_collection",
        "Thu gom rác thải",
        "Waste collection",
        "environment",
        (
            "rác",
            "rác thải",
            "thu gom",
            "bãi rác",
            "điểm tập kết rác",
            "thùng rác",
            "xe rác",
            "xà bần",
            "xác động vật",
        ),
    ),
    CategorySpec(
        "traffic",
        "Trật tự an toàn giao thông",
        "Traffic",
        "traffic",
        (
            "giao thông",
            "ùn tắc",
            "kẹt xe",
            "tai nạn",
            "đèn tín hiệu",
            "đèn giao thông",
            "đỗ xe sai",
            "đua xe",
            "xe quá tải",
            "biển báo",
        ),
    ),
    CategorySpec(
        "road_damage",
        "Hư hỏng đường sá, cầu cống",
        "Road and bridge damage",
        "infrastructure",
        (
            "ổ gà",
            "ổ voi",
            "mặt đường",
            "hư hỏng đường",
            "sụt lún",
            "nứt đường",
            "mặt cầu",
            "lan can cầu",
            "nắp hố ga",
            "hố ga",
            "gờ giảm tốc",
        ),
    ),
    CategorySpec(
        "power_network",
        "Lưới điện",
        "Power network",
        "infrastructure",
        (
            "dây điện",
            "cột điện",
            "đứt dây",
            "chập điện",
            "điện giật",
            "mất điện",
            "cúp điện",
            "trạm biến áp",
            "tủ điện",
            "chùng võng",
        ),
        # A fallen live wire kills; the coordinator lowers the priority of a plain outage.
        Priority.EMERGENCY,
    ),
    CategorySpec(
        "street_lighting",
        "Chiếu sáng công cộng",
        "Street lighting",
        "infrastructure",
        (
            "đèn đường",
            "đèn chiếu sáng",
            "chiếu sáng công cộng",
            "bóng đèn",
            "đèn hỏng",
            "tối om",
            "không có đèn",
        ),
    ),
    CategorySpec(
        "water_supply",
        "Cấp nước",
        "Water supply",
        "public_services",
        (
            "mất nước",
            "nước sinh hoạt",
            "nước máy",
            "vỡ ống nước",
            "đường ống nước",
            "nước đục",
            "nước yếu",
            "đồng hồ nước",
            "rò rỉ nước",
        ),
    ),
    CategorySpec(
        "drainage_flooding",
        "Thoát nước, ngập úng",
        "Drainage and flooding",
        "infrastructure",
        (
            "ngập",
            "ngập úng",
            "ngập lụt",
            "lũ",
            "cống",
            "tắc cống",
            "thoát nước",
            "nước tràn",
            "sạt lở",
            "mương",
        ),
        # In Hue's storm season a flooded street is a danger, not an inconvenience.
        Priority.EMERGENCY,
    ),
    CategorySpec(
        "trees_parks",
        "Cây xanh, công viên",
        "Trees and parks",
        "environment",
        (
            "cây xanh",
            "cây đổ",
            "cây gãy",
            "gãy cành",
            "cắt tỉa",
            "công viên",
            "thảm cỏ",
        ),
    ),
    CategorySpec(
        "construction_order",
        "Trật tự xây dựng",
        "Construction order",
        "urban",
        (
            "xây dựng trái phép",
            "xây dựng không phép",
            "sai phép",
            "không giấy phép",
            "công trình",
            "vật liệu xây dựng",
            "lấn chiếm đất",
            "cơi nới",
            "san lấp",
        ),
        # Usually needs an inspection, records and a decision: it takes longer.
        Priority.COMPLEX,
    ),
    CategorySpec(
        "noise",
        "Tiếng ồn",
        "Noise",
        "urban",
        (
            "tiếng ồn",
            "ồn ào",
            "gây ồn",
            "karaoke",
            "hát karaoke",
            "loa kẹo kéo",
            "loa",
            "nhạc lớn",
            "đêm khuya",
        ),
    ),
    CategorySpec(
        "consumer_protection",
        "Bảo vệ quyền lợi người tiêu dùng",
        "Consumer protection",
        "trade",
        (
            "hàng giả",
            "hàng kém chất lượng",
            "hết hạn sử dụng",
            "giá cả",
            "chặt chém",
            "nâng giá",
            "cân điêu",
            "niêm yết giá",
            "lừa đảo",
            "người tiêu dùng",
        ),
    ),
    CategorySpec(
        "heritage_sites",
        "Di tích, di sản",
        "Heritage sites",
        "culture",
        (
            "di tích",
            "di sản",
            "đại nội",
            "kinh thành",
            "hoàng thành",
            "lăng tẩm",
            "lăng vua",
            "điện thái hòa",
            "chùa thiên mụ",
            "di tích xuống cấp",
        ),
    ),
    CategorySpec(
        "public_services",
        "Dịch vụ hành chính công",
        "Public administrative services",
        "administration",
        (
            "thủ tục hành chính",
            "hồ sơ",
            "dịch vụ công",
            "một cửa",
            "trễ hẹn",
            "giấy tờ",
            "cán bộ",
            "thái độ",
            "chứng thực",
        ),
    ),
)

# --- Step policies (DESIGN.md §5) -----------------------------------------------------------

# Working time is 07:30–11:30 + 13:30–17:00: 4 h + 3.5 h.
WORKING_DAY_MINUTES = 450
HOUR = 60
# The confirmation window is always wall-clock time: citizens confirm evenings and weekends too,
# so the window is counted around the clock whatever the priority's around_the_clock says.
CONFIRM_WINDOW_MINUTES = 7 * 24 * HOUR


@dataclass(frozen=True)
class StepPolicySpec:
    category: str | None  # None: the priority's default for every category
    priority: Priority
    classify_minutes: int
    accept_minutes: int
    process_minutes: int
    confirm_window_minutes: int
    around_the_clock: bool


STEP_POLICIES: tuple[StepPolicySpec, ...] = (
    StepPolicySpec(
        None,
        Priority.EMERGENCY,
        classify_minutes=1 * HOUR,
        accept_minutes=1 * HOUR,
        process_minutes=4 * HOUR,
        confirm_window_minutes=CONFIRM_WINDOW_MINUTES,
        around_the_clock=True,
    ),
    StepPolicySpec(
        None,
        Priority.NORMAL,
        classify_minutes=4 * HOUR,
        accept_minutes=8 * HOUR,
        process_minutes=5 * WORKING_DAY_MINUTES,
        confirm_window_minutes=CONFIRM_WINDOW_MINUTES,
        around_the_clock=False,
    ),
    StepPolicySpec(
        None,
        Priority.COMPLEX,
        classify_minutes=4 * HOUR,
        accept_minutes=8 * HOUR,
        process_minutes=15 * WORKING_DAY_MINUTES,
        confirm_window_minutes=CONFIRM_WINDOW_MINUTES,
        around_the_clock=False,
    ),
)

# --- Moved days (DESIGN.md §2, §10) ----------------------------------------------------------


@dataclass(frozen=True)
class CalendarDaySpec:
    day: date
    kind: CalendarDayKind
    note: str


# Days the government moved that the `holidays` package does not know. Administrators add the
# next years' through the admin API or page; a seed never overwrites what they decided.
MOVED_DAYS: tuple[CalendarDaySpec, ...] = (
    CalendarDaySpec(
        date(2026, 1, 2),
        CalendarDayKind.DAY_OFF,
        "Nghỉ Tết Dương lịch 2026, làm bù thứ Bảy 10/01/2026",
    ),
    CalendarDaySpec(
        date(2026, 1, 10),
        CalendarDayKind.WORKING_DAY,
        "Làm bù cho ngày nghỉ thứ Sáu 02/01/2026",
    ),
)

# --- Handling units ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HandlingUnitSpec:
    code: str
    name: str
    name_en: str
    kind: HandlingUnitKind
    administrative_unit: str  # code of an AdministrativeUnitSpec
    valid_from: date | None = None
    valid_to: date | None = None


_D = HandlingUnitKind.DEPARTMENT
_C = HandlingUnitKind.COMPANY

CITY_UNITS: tuple[HandlingUnitSpec, ...] = (
    HandlingUnitSpec(
        "SXD", "Sở Xây dựng", "Department of Construction", _D, PROVINCE_CODE, PROVINCE_VALID_FROM
    ),
    HandlingUnitSpec(
        "SNNMT",
        "Sở Nông nghiệp và Môi trường",
        "Department of Agriculture and Environment",
        _D,
        PROVINCE_CODE,
        PROVINCE_VALID_FROM,
    ),
    HandlingUnitSpec(
        "SCT",
        "Sở Công Thương",
        "Department of Industry and Trade",
        _D,
        PROVINCE_CODE,
        PROVINCE_VALID_FROM,
    ),
    HandlingUnitSpec(
        "SVHTT",
        "Sở Văn hóa và Thể thao",
        "Department of Culture and Sports",
        _D,
        PROVINCE_CODE,
        PROVINCE_VALID_FROM,
    ),
    HandlingUnitSpec(
        "SDL", "Sở Du lịch", "Department of Tourism", _D, PROVINCE_CODE, PROVINCE_VALID_FROM
    ),
    HandlingUnitSpec(
        "SYT", "Sở Y tế", "Department of Health", _D, PROVINCE_CODE, PROVINCE_VALID_FROM
    ),
    HandlingUnitSpec(
        "SGDDT",
        "Sở Giáo dục và Đào tạo",
        "Department of Education and Training",
        _D,
        PROVINCE_CODE,
        PROVINCE_VALID_FROM,
    ),
    HandlingUnitSpec(
        "TTBTDT",
        "Trung tâm Bảo tồn Di tích Cố đô Huế",
        "Hue Monuments Conservation Centre",
        _D,
        PROVINCE_CODE,
        PROVINCE_VALID_FROM,
    ),
    HandlingUnitSpec(
        "TTPVHCC",
        "Trung tâm Phục vụ hành chính công thành phố Huế",
        "Hue Public Administrative Service Centre",
        _D,
        PROVINCE_CODE,
        PROVINCE_VALID_FROM,
    ),
    HandlingUnitSpec(
        "CATP", "Công an thành phố Huế", "Hue City Police", _D, PROVINCE_CODE, PROVINCE_VALID_FROM
    ),
    HandlingUnitSpec(
        "PCHUE",
        "Công ty Điện lực Thừa Thiên Huế",
        "Thua Thien Hue Power Company (PC Hue)",
        _C,
        PROVINCE_CODE,
        PROVINCE_VALID_FROM,
    ),
    HandlingUnitSpec(
        "HUEWACO",
        "Công ty Cổ phần Cấp nước Thừa Thiên Huế",
        "Thua Thien Hue Water Supply JSC (HueWACO)",
        _C,
        PROVINCE_CODE,
        PROVINCE_VALID_FROM,
    ),
    HandlingUnitSpec(
        "HEPCO",
        "Công ty Cổ phần Môi trường và Công trình đô thị Huế",
        "Hue Urban Environment and Public Works JSC (HEPCO)",
        _C,
        PROVINCE_CODE,
        PROVINCE_VALID_FROM,
    ),
)


def _local_names(division: Division) -> tuple[str, str]:
    """Vietnamese writes the kind in lower case after "Ủy ban nhân dân" ("phường Phú Xuân");
    English names the place as the division's English name does ("Phú Xuân Ward")."""
    kind = division.kind.lower()
    if division.name.lower().startswith(kind + " "):
        return f"{kind} {division.name[len(kind) + 1 :]}", division.name_en
    return division.name, division.name_en


def peoples_committee_code(administrative_unit_code: str) -> str:
    return f"UBND.{administrative_unit_code}"


def _peoples_committee(
    division: Division, valid_from: date, valid_to: date | None
) -> HandlingUnitSpec:
    name_vi, name_en = _local_names(division)
    return HandlingUnitSpec(
        peoples_committee_code(division.code),
        f"Ủy ban nhân dân {name_vi}",
        f"People's Committee of {name_en}",
        HandlingUnitKind.PEOPLES_COMMITTEE,
        division.code,
        valid_from,
        valid_to,
    )


COMMUNE_COMMITTEES: tuple[HandlingUnitSpec, ...] = tuple(
    _peoples_committee(commune, TWO_TIER_VALID_FROM, None) for commune in TWO_TIER_COMMUNES
)
DISTRICT_COMMITTEES: tuple[HandlingUnitSpec, ...] = tuple(
    _peoples_committee(district, THREE_TIER_VALID_FROM, THREE_TIER_VALID_TO)
    for district in THREE_TIER_DISTRICTS
)

# The two urban districts of 2025 (the former Hue city) kept an urban-order team; sidewalk and
# street-trading cases there went to the team rather than to the district's People's Committee.
URBAN_ORDER_TEAM_DISTRICTS = ("46.D474", "46.D475")  # Thuận Hóa, Phú Xuân


def urban_order_team_code(district_code: str) -> str:
    return f"DQLTTDT.{district_code}"


def _urban_order_team(district: Division) -> HandlingUnitSpec:
    name_vi, name_en = _local_names(district)
    return HandlingUnitSpec(
        urban_order_team_code(district.code),
        f"Đội Quản lý trật tự đô thị {name_vi}",
        f"Urban Order Team of {name_en}",
        HandlingUnitKind.TEAM,
        district.code,
        THREE_TIER_VALID_FROM,
        THREE_TIER_VALID_TO,
    )


URBAN_ORDER_TEAMS: tuple[HandlingUnitSpec, ...] = tuple(
    _urban_order_team(district)
    for district in THREE_TIER_DISTRICTS
    if district.code in URBAN_ORDER_TEAM_DISTRICTS
)

HANDLING_UNITS: tuple[HandlingUnitSpec, ...] = (
    CITY_UNITS + COMMUNE_COMMITTEES + DISTRICT_COMMITTEES + URBAN_ORDER_TEAMS
)

# --- Routing rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingRuleSpec:
    category: str
    administrative_unit: str
    handling_unit: str


# Matters a city-wide unit handles wherever they happen: one rule at the province.
CITY_WIDE_ROUTES: dict[str, str] = {
    "environment_pollution": "SNNMT",
    "waste_collection": "HEPCO",
    "traffic": "CATP",
    "road_damage": "SXD",
    "power_network": "PCHUE",
    "street_lighting": "HEPCO",
    "water_supply": "HUEWACO",
    "drainage_flooding": "HUEWACO",
    "trees_parks": "HEPCO",
    "consumer_protection": "SCT",
    "heritage_sites": "TTBTDT",
    "public_services": "TTPVHCC",
}

# Matters of local order, handled by the People's Committee of the place.
LOCAL_CATEGORIES: tuple[str, ...] = ("urban_order", "construction_order", "noise")


def _routing_rules() -> tuple[RoutingRuleSpec, ...]:
    rules = [
        RoutingRuleSpec(category, PROVINCE_CODE, unit)
        for category, unit in CITY_WIDE_ROUTES.items()
    ]
    for category in LOCAL_CATEGORIES:
        for commune in TWO_TIER_COMMUNES:
            rules.append(
                RoutingRuleSpec(category, commune.code, peoples_committee_code(commune.code))
            )
        # A district rule covers the district's three-tier communes: the nearest rule wins.
        for district in THREE_TIER_DISTRICTS:
            unit = peoples_committee_code(district.code)
            if category == "urban_order" and district.code in URBAN_ORDER_TEAM_DISTRICTS:
                unit = urban_order_team_code(district.code)
            rules.append(RoutingRuleSpec(category, district.code, unit))
    return tuple(rules)


ROUTING_RULES: tuple[RoutingRuleSpec, ...] = _routing_rules()

# --- Demo users (one or more per staff role of DESIGN.md §3) ----------------------------------


@dataclass(frozen=True)
class DemoUserSpec:
    username: str
    full_name: str
    role: Role
    handling_units: tuple[str, ...] = ()  # handling unit codes (handlers, unit heads)
    areas: tuple[str, ...] = ()  # administrative unit codes (supervisors of a level)
    email: str | None = None


DEMO_COMMUNE = "46.W19768"  # Phường Phú Xuân, in the heart of the city

DEMO_USERS: tuple[DemoUserSpec, ...] = (
    DemoUserSpec("admin", "Nguyễn Văn Hùng", Role.ADMIN, email="admin@ioc.hue.example"),
    DemoUserSpec("coordinator", "Trần Thị Mai", Role.COORDINATOR, email="dieuphoi@ioc.hue.example"),
    DemoUserSpec(
        "coordinator2", "Lê Quang Minh", Role.COORDINATOR, email="dieuphoi2@ioc.hue.example"
    ),
    DemoUserSpec("operator", "Phạm Thị Hương", Role.OPERATOR, email="tongdai@ioc.hue.example"),
    DemoUserSpec("auditor", "Hoàng Văn Sơn", Role.AUDITOR, email="thanhtra@hue.example"),
    DemoUserSpec(
        "handler.phuxuan",
        "Võ Thị Lan",
        Role.HANDLER,
        handling_units=(peoples_committee_code(DEMO_COMMUNE),),
        email="lan.vt@phuxuan.hue.example",
    ),
    DemoUserSpec(
        "handler.hepco",
        "Đặng Văn Phúc",
        Role.HANDLER,
        handling_units=("HEPCO",),
        email="phuc.dv@hepco.hue.example",
    ),
    DemoUserSpec(
        "supervisor.ioc",
        "Nguyễn Thanh Bình",
        Role.SUPERVISOR,
        areas=(PROVINCE_CODE,),
        email="lanhdao@ioc.hue.example",
    ),
    DemoUserSpec(
        "supervisor.phuxuan",
        "Trương Công Định",
        Role.SUPERVISOR,
        areas=(DEMO_COMMUNE,),
        email="dinh.tc@phuxuan.hue.example",
    ),
    # Every level an escalation can reach has someone to hear it: the city (supervisor.ioc)
    # and, on the 2025 three-tier map, each district-level unit.
    *(
        DemoUserSpec(
            f"supervisor.d{district.code.rsplit('.D', 1)[1]}",
            f"Lãnh đạo {district.name}",
            Role.SUPERVISOR,
            areas=(district.code,),
            email=f"lanhdao.d{district.code.rsplit('.D', 1)[1]}@hue.example",
        )
        for district in THREE_TIER_DISTRICTS
    ),
)
