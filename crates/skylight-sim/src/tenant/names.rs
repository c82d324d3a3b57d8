//! Word lists the directory is generated from.

/// Given names.
pub static GIVEN: &[&str] = &[
    "Adele", "Alex", "Allan", "Bianca", "Brian", "Camille", "Carlos", "Chen", "Christie", "Daniel",
    "Deepa", "Diego", "Emily", "Enrico", "Fatima", "Felix", "Grace", "Hannah", "Haruto", "Isaiah",
    "Ingrid", "Jamal", "Johanna", "Joni", "Kenji", "Lara", "Lee", "Lidia", "Lucas", "Lynne",
    "Maya", "Megan", "Miriam", "Nestor", "Nora", "Olga", "Omar", "Patti", "Pedro", "Priya",
    "Rafael", "Rina", "Sakura", "Samir", "Sofia", "Tomasz", "Uma", "Victor", "Wei", "Zoe",
];

/// Family names.
pub static FAMILY: &[&str] = &[
    "Vance",
    "Wilber",
    "Deyoung",
    "Kraft",
    "Garcia",
    "Dupont",
    "Mendes",
    "Nakamura",
    "Schmidt",
    "Kowalski",
    "Rossi",
    "Sharma",
    "Patel",
    "Kim",
    "Tanaka",
    "Silva",
    "Johnson",
    "Smith",
    "Brown",
    "Nguyen",
    "Müller",
    "Lopez",
    "Martin",
    "Bernard",
    "Suzuki",
    "Ito",
    "Fernandes",
    "Novak",
    "Holt",
    "Larsen",
    "Okafor",
    "Haddad",
    "Ivanova",
    "Rahman",
    "Cohen",
    "O'Brien",
    "Fischer",
    "Weber",
    "Moreau",
    "Ricci",
    "Costa",
    "Yamamoto",
    "Park",
    "Singh",
    "Gupta",
    "Hughes",
    "Reed",
    "Price",
];

/// Departments, each with typical job titles.
pub static DEPARTMENTS: &[(&str, &[&str])] = &[
    (
        "Finance",
        &["Accountant", "Financial Analyst", "Controller"],
    ),
    (
        "Sales",
        &["Account Executive", "Sales Manager", "Sales Engineer"],
    ),
    (
        "Marketing",
        &["Marketing Specialist", "Content Manager", "Brand Manager"],
    ),
    (
        "Engineering",
        &[
            "Software Engineer",
            "Engineering Manager",
            "QA Engineer",
            "Architect",
        ],
    ),
    (
        "Human Resources",
        &["HR Generalist", "Recruiter", "HR Manager"],
    ),
    ("Legal", &["Counsel", "Paralegal"]),
    (
        "Operations",
        &["Operations Analyst", "Logistics Coordinator"],
    ),
    ("Support", &["Support Engineer", "Customer Success Manager"]),
    (
        "IT",
        &["Systems Administrator", "Security Analyst", "IT Manager"],
    ),
    ("Research", &["Researcher", "Data Scientist"]),
];

/// Organisations the generated tenant can be (domain stem, display name).
pub static ORGANISATIONS: &[(&str, &str)] = &[
    ("contoso", "Contoso Ltd"),
    ("fabrikam", "Fabrikam Inc"),
    ("northwind", "Northwind Traders"),
    ("tailspin", "Tailspin Toys"),
    ("woodgrove", "Woodgrove Bank"),
    ("litware", "Litware Inc"),
    ("adatum", "Adatum Corporation"),
    ("proseware", "Proseware Inc"),
];

/// Partner domains guests come from.
pub static PARTNER_DOMAINS: &[&str] = &[
    "fabrikam-partners.com",
    "northwindlogistics.com",
    "adventure-works.com",
    "wingtiptoys.com",
    "treyresearch.net",
    "blueyonderairlines.com",
    "gmail.com",
    "outlook.com",
];

/// Words file names are made of.
pub static FILE_WORDS: &[&str] = &[
    "Budget",
    "Forecast",
    "Roadmap",
    "Contract",
    "Invoice",
    "Payroll",
    "Board",
    "Strategy",
    "Customer",
    "Pipeline",
    "Design",
    "Spec",
    "Report",
    "Review",
    "Offer",
    "Policy",
    "Minutes",
    "Architecture",
    "Benchmark",
    "Pricing",
    "Audit",
    "Plan",
    "Onboarding",
    "Release",
    "Proposal",
];

/// File extensions with their share.
pub static FILE_EXTENSIONS: &[&str] = &[
    "docx", "docx", "docx", "xlsx", "xlsx", "xlsx", "pptx", "pptx", "pdf", "pdf", "txt", "csv",
    "png", "jpg", "mp4", "zip", "one", "vsdx",
];

/// Sites created in another language: URL slug, title and the localised library path (the
/// library is still displayed as "Documents"; its path is not "Shared Documents").
pub static LOCALISED_SITES: &[(&str, &str, &str)] = &[
    ("BureauParis", "Bureau de Paris", "Documents partages"),
    (
        "StandortBerlin",
        "Standort Berlin",
        "Freigegebene Dokumente",
    ),
];

/// Standard communication sites every tenant has.
pub static COMMUNICATION_SITES: &[&str] = &[
    "Intranet",
    "HR",
    "Finance",
    "Legal",
    "Engineering",
    "Sales",
    "Marketing",
    "ITHelpdesk",
];
