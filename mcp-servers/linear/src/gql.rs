//! Every GraphQL document this server sends, written by hand as constants.
//!
//! User input never enters these texts: it travels only in `variables`, and each request carries
//! the document's `operationName`. Field and argument names follow Linear's public schema
//! (<https://github.com/linear/linear/blob/master/packages/sdk/src/schema.graphql>) and guides:
//! pagination <https://linear.app/developers/pagination> (`first`/`after`, `nodes`,
//! `pageInfo { hasNextPage endCursor }`), filtering <https://linear.app/developers/filtering>
//! (`IssueFilter` comparators such as `eq`, `in`, `gte`, `containsIgnoreCase`, `isMe`), and
//! "Creating & Editing Issues" in <https://linear.app/developers/graphql> (`issue(id:)` takes a
//! UUID or an identifier like `ENG-123`; `issueCreate` / `issueUpdate` return `success` and
//! `issue`).

/// One operation: its name (sent as `operationName`), its text, and whether it writes.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    pub name: &'static str,
    pub text: &'static str,
    pub mutation: bool,
}

const fn query(name: &'static str, text: &'static str) -> Doc {
    Doc {
        name,
        text,
        mutation: false,
    }
}

const fn mutation(name: &'static str, text: &'static str) -> Doc {
    Doc {
        name,
        text,
        mutation: true,
    }
}

/// `--check`: who the credential belongs to.
pub const VIEWER: Doc = query(
    "Viewer",
    "query Viewer { viewer { id name displayName email active } organization { name urlKey } }",
);

/// One page of issues (summary fields), newest update first.
pub const ISSUE_LIST: Doc = query(
    "IssueList",
    "query IssueList($filter: IssueFilter, $first: Int!, $after: String) {
  issues(filter: $filter, first: $first, after: $after, orderBy: updatedAt) {
    nodes {
      id identifier title priority priorityLabel estimate dueDate url updatedAt
      state { id name type }
      assignee { id name email }
      team { id key }
      project { id name }
      cycle { id number name }
      labels(first: 20) { nodes { id name } }
    }
    pageInfo { hasNextPage endCursor }
  }
}",
);

/// One issue with everything `issue_get` shows (and writes read back).
pub const ISSUE_GET: Doc = query(
    "IssueGet",
    "query IssueGet($id: String!) {
  issue(id: $id) {
    id identifier title description priority priorityLabel estimate dueDate url createdAt updatedAt
    state { id name type }
    assignee { id name email }
    team { id key name }
    project { id name }
    cycle { id number name }
    parent { id identifier title }
    labels(first: 50) { nodes { id name } }
    comments(first: 50) { nodes { id body createdAt user { id name } } pageInfo { hasNextPage endCursor } }
    relations(first: 50) { nodes { id type relatedIssue { id identifier title } } }
    inverseRelations(first: 50) { nodes { id type issue { id identifier title } } }
  }
}",
);

/// Create an issue.
pub const ISSUE_CREATE: Doc = mutation(
    "IssueCreate",
    "mutation IssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier } }
}",
);

/// Update an issue.
pub const ISSUE_UPDATE: Doc = mutation(
    "IssueUpdate",
    "mutation IssueUpdate($id: String!, $input: IssueUpdateInput!) {
  issueUpdate(id: $id, input: $input) { success issue { id identifier } }
}",
);

/// Comment on an issue.
pub const COMMENT_CREATE: Doc = mutation(
    "CommentCreate",
    "mutation CommentCreate($input: CommentCreateInput!) {
  commentCreate(input: $input) { success comment { id } }
}",
);

/// Read a comment back.
pub const COMMENT_GET: Doc = query(
    "CommentGet",
    "query CommentGet($id: String!) {
  comment(id: $id) { id body createdAt url user { id name } issue { id identifier } }
}",
);

/// Relate two issues.
pub const RELATION_CREATE: Doc = mutation(
    "IssueRelationCreate",
    "mutation IssueRelationCreate($input: IssueRelationCreateInput!) {
  issueRelationCreate(input: $input) { success issueRelation { id } }
}",
);

/// Read a relation back.
pub const RELATION_GET: Doc = query(
    "IssueRelationGet",
    "query IssueRelationGet($id: String!) {
  issueRelation(id: $id) { id type issue { id identifier title } relatedIssue { id identifier title } }
}",
);

/// Teams.
pub const TEAMS: Doc = query(
    "Teams",
    "query Teams($first: Int!, $after: String) {
  teams(first: $first, after: $after) { nodes { id key name } pageInfo { hasNextPage endCursor } }
}",
);

/// Users of the workspace.
pub const USERS: Doc = query(
    "Users",
    "query Users($filter: UserFilter, $first: Int!, $after: String) {
  users(filter: $filter, first: $first, after: $after) {
    nodes { id name displayName email active }
    pageInfo { hasNextPage endCursor }
  }
}",
);

/// Workflow states, optionally of some teams.
pub const WORKFLOW_STATES: Doc = query(
    "WorkflowStates",
    "query WorkflowStates($filter: WorkflowStateFilter, $first: Int!, $after: String) {
  workflowStates(filter: $filter, first: $first, after: $after) {
    nodes { id name type position team { id key } }
    pageInfo { hasNextPage endCursor }
  }
}",
);

/// Issue labels, optionally of some teams.
pub const LABELS: Doc = query(
    "IssueLabels",
    "query IssueLabels($filter: IssueLabelFilter, $first: Int!, $after: String) {
  issueLabels(filter: $filter, first: $first, after: $after) {
    nodes { id name team { id key } }
    pageInfo { hasNextPage endCursor }
  }
}",
);

/// Projects.
pub const PROJECTS: Doc = query(
    "Projects",
    "query Projects($first: Int!, $after: String) {
  projects(first: $first, after: $after) {
    nodes { id name url targetDate }
    pageInfo { hasNextPage endCursor }
  }
}",
);

/// Cycles, optionally of some teams.
pub const CYCLES: Doc = query(
    "Cycles",
    "query Cycles($filter: CycleFilter, $first: Int!, $after: String) {
  cycles(filter: $filter, first: $first, after: $after) {
    nodes { id number name startsAt endsAt isActive team { id key } }
    pageInfo { hasNextPage endCursor }
  }
}",
);

/// Every document, for tests and benchmarks.
pub const ALL: &[Doc] = &[
    VIEWER,
    ISSUE_LIST,
    ISSUE_GET,
    ISSUE_CREATE,
    ISSUE_UPDATE,
    COMMENT_CREATE,
    COMMENT_GET,
    RELATION_CREATE,
    RELATION_GET,
    TEAMS,
    USERS,
    WORKFLOW_STATES,
    LABELS,
    PROJECTS,
    CYCLES,
];
