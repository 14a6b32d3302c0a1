//! Who is in the simulated casino: players, staff of every kind (with and
//! without each permission, inactive, one who is also a player), and the
//! settings the run starts from.

use postgres::Client;

/// A staff member: id and what they hold.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: String,
    pub role: &'static str,
    pub permissions: &'static [&'static str],
    pub active: bool,
}

impl Staff {
    pub fn holds(&self, permission: &str) -> bool {
        self.active && self.permissions.contains(&permission)
    }
}

pub struct World {
    pub players: Vec<String>,
    pub staff: Vec<Staff>,
    pub basis: &'static str,
}

pub const PLAYERS: usize = 16;

/// The daily approval threshold the run starts with.
pub const DAILY_THRESHOLD: i64 = 40_000;

fn uuid(kind: u32, n: usize) -> String {
    format!("5151{kind:04x}-0000-4000-8000-{n:012x}")
}

impl World {
    pub fn new(seed: u64) -> World {
        let players: Vec<String> = (0..PLAYERS).map(|n| uuid(1, n)).collect();
        let roster: &[(&'static str, &'static [&'static str], bool, usize)] = &[
            ("floor", &["loyalty:rate"], true, 2),
            ("approver", &["loyalty:approve"], true, 2),
            ("awarder", &["loyalty:award"], true, 3),
            ("cashier", &["loyalty:redeem"], true, 2),
            ("recoverer", &["loyalty:recover"], true, 1),
            ("viewer", &["loyalty:view_all"], true, 1),
            ("nobody", &[], true, 1),
            (
                "inactive",
                &["loyalty:rate", "loyalty:award", "loyalty:redeem"],
                false,
                1,
            ),
        ];
        let mut staff = Vec::new();
        for (role, permissions, active, count) in roster {
            for _ in 0..*count {
                let n = staff.len();
                staff.push(Staff {
                    id: uuid(2, n),
                    role,
                    permissions,
                    active: *active,
                });
            }
        }
        // player 0 works the floor too: every call of theirs for themselves
        // is self-dealing
        staff.push(Staff {
            id: players[0].clone(),
            role: "player-staff",
            permissions: &["loyalty:rate", "loyalty:award", "loyalty:redeem"],
            active: true,
        });
        World {
            players,
            staff,
            basis: if seed.is_multiple_of(2) {
                "LIFETIME"
            } else {
                "PERIOD"
            },
        }
    }

    /// The staff (indexes) of a role.
    pub fn with_role(&self, role: &str) -> Vec<usize> {
        (0..self.staff.len())
            .filter(|i| self.staff[*i].role == role)
            .collect()
    }

    /// The staff rows, the starting settings and every player's opening
    /// balance (a DIRECT_INCREMENT each), as the owner.
    pub fn setup(&self, c: &mut Client) {
        for s in &self.staff {
            let perms: Vec<String> = s.permissions.iter().map(|p| p.to_string()).collect();
            c.execute(
                "INSERT INTO loyalty.staff (staff_id, permissions, active) VALUES ($1::text::uuid, $2, $3)",
                &[&s.id, &perms, &s.active],
            )
            .expect("add staff");
        }
        c.batch_execute(&format!(
            "SELECT loyalty.configure(p_rate_limit_count => 300, p_alert_reward_count => 400,
                    p_daily_approval_threshold_points => {}, p_redemption_approval_points => 3000,
                    p_max_redemption_points => 20000, p_points_inactivity_expiry => '90 days',
                    p_expiry_warning => '10 days', p_tier_basis => '{}', p_correlation_id => 'sim:setup')",
            DAILY_THRESHOLD, self.basis
        ))
        .expect("configure");
        for p in &self.players {
            c.execute(
                "SELECT * FROM loyalty.increment_player_loyalty($1::text::uuid, 20000, 'sim:opening')",
                &[p],
            )
            .expect("opening balance");
        }
    }
}
