#include "tables/expressions.h"

#include <gtest/gtest.h>

#include <chrono>

#include "tables/attribute_json.h"

namespace riffle::tables {
namespace {

AttributeValue V(std::string_view json_text) {
  auto j = json::Parse(json_text);
  EXPECT_TRUE(j.ok()) << json_text;
  auto v = AttributeValueFromJson(*j);
  EXPECT_TRUE(v.ok()) << json_text;
  return *v;
}

Item I(std::string_view json_text) {
  auto j = json::Parse(json_text);
  EXPECT_TRUE(j.ok()) << json_text;
  auto v = ItemFromJson(*j);
  EXPECT_TRUE(v.ok()) << json_text;
  return *v;
}

// The names and values every table below may use.
ExpressionAttributes Attributes() {
  return ExpressionAttributes(
      {{"#a", "a"}, {"#b", "b"}, {"#size", "size"}, {"#n", "n"}},
      {{":s", V(R"({"S":"x"})")},
       {":t", V(R"({"S":"S"})")},
       {":bad_type", V(R"({"S":"Q"})")},
       {":n", V(R"({"N":"5"})")},
       {":one", V(R"({"N":"1"})")},
       {":l", V(R"({"L":[{"N":"9"}]})")},
       {":ss", V(R"({"SS":["p","q"]})")},
       {":ns", V(R"({"NS":["1","2"]})")},
       {":b", V(R"({"B":"YQ=="})")},
       {":bool", V(R"({"BOOL":true})")},
       {":m", V(R"({"M":{}})")}});
}

std::string ConditionError(std::string_view text,
                           ConditionUse use = ConditionUse::kCondition) {
  ExpressionAttributes attrs = Attributes();
  auto c = ParseCondition(text, use, attrs);
  return c.ok() ? "OK" : c.status().message();
}

TEST(ConditionParseTest, ErrorsInAwsWording) {
  const std::string p = "Invalid ConditionExpression: ";
  struct Case {
    std::string_view text;
    std::string message;
  } cases[] = {
      {"a = :s", "OK"},
      {"#a = :s AND (b < :n OR NOT c BETWEEN :one AND :n)", "OK"},
      {"a IN (:s, :n, :one)", "OK"},
      {"size(a) > :n", "OK"},
      {"(a) = :s", "OK"},
      {"attribute_exists(a.b[2].c) and attribute_not_exists(#b)", "OK"},
      {"attribute_type(a, :t)", "OK"},
      {"begins_with(a, :s) OR contains(a, :s)", "OK"},
      {"", p + "The expression can not be empty;"},
      {"a =", p + "Syntax error; token: \"<EOF>\", near: \"=\""},
      {"a = :s :s", p + "Syntax error; token: \":s\", near: \":s :s\""},
      {"a / :s", p + "Syntax error; token: \"/\", near: \"a / :s\""},
      {"a AND b", p + "Syntax error; token: \"AND\", near: \"a AND b\""},
      {"a", p + "Syntax error; token: \"<EOF>\", near: \"a\""},
      {"a = :s)", p + "Syntax error; token: \")\", near: \":s)\""},
      {"a.1 = :s", p + "Syntax error; token: \"1\", near: \".1 =\""},
      {"((a = :s))", p + "The expression has redundant parentheses;"},
      {"((a)) = :s", p + "The expression has redundant parentheses;"},
      {"foo(a)", p + "Invalid function name; function: foo"},
      {"size(a)",
       p + "The function is not allowed to be used this way in an expression; "
           "function: size"},
      {"begins_with(a, :s) = :bool",
       p + "The function is not allowed to be used this way in an expression; "
           "function: "
           "begins_with"},
      {"size = :n",
       p + "Attribute name is a reserved keyword; reserved keyword: size"},
      {"#size = :n", "OK"},
      {"#x = :s", p + "An expression attribute name used in the document path "
                      "is not defined; "
                      "attribute name: #x"},
      {"a = :x",
       p + "An expression attribute value used in expression is not defined; "
           "attribute value: :x"},
      {"attribute_exists(a, b)",
       p + "Incorrect number of operands for operator or function; operator or "
           "function: "
           "attribute_exists, number of operands: 2"},
      {"attribute_exists(:s)", p + "Operator or function requires a document "
                                   "path; operator or function: "
                                   "attribute_exists"},
      {"begins_with(a, :n)", p + "Incorrect operand type for operator or "
                                 "function; operator or function: "
                                 "begins_with, operand type: N"},
      {"attribute_type(a, :n)", p + "Incorrect operand type for operator or "
                                    "function; operator or function: "
                                    "attribute_type, operand type: N"},
      {"attribute_type(a, :bad_type)",
       p + "Invalid attribute type name found; type: Q, valid types: "
           "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}"},
      {"size(:n) > :n", p + "Incorrect operand type for operator or function; "
                            "operator or function: size, "
                            "operand type: N"},
      {"a = a", p + "The first operand must be distinct from the remaining "
                    "operands for this "
                    "operator or function; operator: =, first operand: [a]"},
      {"contains(a.b, a.b)",
       p + "The first operand must be distinct from the remaining operands for "
           "this operator "
           "or function; operator: contains, first operand: [a, b]"},
      {"a BETWEEN :n AND :one",
       p + "The BETWEEN operator requires upper bound to be greater than or "
           "equal to lower "
           "bound; lower bound operand: AttributeValue: {N:5}, upper bound "
           "operand: "
           "AttributeValue: {N:1}"},
      {"a BETWEEN :n AND :s", p + "The BETWEEN operator requires same data "
                                  "type for lower and upper bounds; lower "
                                  "bound operand: AttributeValue: {N:5}, upper "
                                  "bound operand: AttributeValue: {S:x}"},
      // Precedence among several faults: parentheses before functions,
      // functions before reserved words, reserved words before names.
      {"((foo(size)))", p + "The expression has redundant parentheses;"},
      {"foo(size)", p + "Invalid function name; function: foo"},
      {"size = :x",
       p + "Attribute name is a reserved keyword; reserved keyword: size"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ConditionError(c.text), c.message) << c.text;
  }
  EXPECT_EQ(ConditionError("a = :x", ConditionUse::kFilter),
            "Invalid FilterExpression: An expression attribute value used in "
            "expression is not "
            "defined; attribute value: :x");
}

TEST(ConditionParseTest, PrecedenceIsNotThenAndThenOr) {
  // a OR b AND c parses as a OR (b AND c); NOT binds tighter than AND.
  ExpressionAttributes attrs = Attributes();
  auto c = ParseCondition("a = :s OR NOT b = :s AND c = :s",
                          ConditionUse::kCondition, attrs);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, Condition::Kind::kOr);
  EXPECT_EQ(c->children[1].kind, Condition::Kind::kAnd);
  EXPECT_EQ(c->children[1].children[0].kind, Condition::Kind::kNot);

  Item item = I(R"({"a":{"S":"y"},"b":{"S":"y"},"c":{"S":"x"}})");
  EXPECT_TRUE(EvaluateCondition(*c, item));
  item["c"] = V(R"({"S":"z"})");
  EXPECT_FALSE(EvaluateCondition(*c, item));
}

TEST(ConditionParseTest, HostileInputIsAnsweredQuickly) {
  auto start = std::chrono::steady_clock::now();
  std::string deep_or = "a = :s";
  for (int i = 0; i < 149; ++i) deep_or = "(" + deep_or + " OR a = :s)";
  EXPECT_EQ(ConditionError(deep_or), "OK");

  std::string parens(2000, '(');
  parens += "a = :s";
  parens += std::string(2000, ')');
  EXPECT_EQ(
      ConditionError(parens),
      "Invalid ConditionExpression: The expression has redundant parentheses;");

  std::string unbalanced(3000, '(');
  EXPECT_NE(ConditionError(unbalanced), "OK");

  std::string many_ops = "a = :s";
  for (int i = 0; i < 300; ++i) many_ops += " AND a = :s";
  EXPECT_EQ(ConditionError(many_ops),
            "Invalid ConditionExpression: The expression contains too many "
            "operators; "
            "operator count: 601");

  std::string in_list = "a IN (:s";
  for (int i = 0; i < 100; ++i) in_list += ",:s";
  in_list += ")";
  EXPECT_EQ(ConditionError(in_list),
            "Invalid ConditionExpression: The IN operator is provided with too "
            "many operands; "
            "number of operands: 101");

  EXPECT_EQ(ConditionError(std::string(5000, 'a')),
            "Invalid ConditionExpression: Expression size has exceeded the "
            "maximum allowed "
            "size; expression size: 5000");
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::milliseconds(500));
}

TEST(ConditionEvalTest, Table) {
  const Item item = I(R"({
    "s": {"S": "xyz"}, "n": {"N": "5"}, "b": {"B": "YWJj"}, "t": {"BOOL": true},
    "nul": {"NULL": true}, "ss": {"SS": ["p", "q"]}, "ns": {"NS": ["1", "2"]},
    "l": {"L": [{"N": "9"}, {"S": "x"}]}, "m": {"M": {"k": {"S": "x"}, "size": {"N": "3"}}}
  })");
  struct Case {
    std::string_view text;
    bool expected;
  } cases[] = {
      {"n = :n", true},
      {"n <> :n", false},
      {"n >= :n AND n <= :n", true},
      {"n > :one", true},
      {"n < :one", false},
      {"s > :s", true},   // "xyz" > "x"
      {"s = :n", false},  // type mismatch
      {"s < :n", false},
      {"absent = :s", false},
      {"absent <> :s", true},
      {"absent < :s", false},
      {"n BETWEEN :one AND :n", true},
      {"s BETWEEN :one AND :n", false},
      {"n IN (:s, :one)", false},
      {"n IN (:s, :n)", true},
      {"attribute_exists(m.k)", true},
      {"attribute_exists(m.nope)", false},
      {"attribute_not_exists(l[5])", true},
      {"attribute_exists(l[1])", true},
      {"attribute_exists(s[0])", false},
      {"attribute_type(s, :t)", true},
      {"attribute_type(n, :t)", false},
      {"begins_with(s, :s)", true},
      {"begins_with(n, :s)", false},
      {"contains(s, :s)", true},
      {"contains(ss, :s)", false},
      {"contains(l, :s)", true},
      {"contains(l, :n)", false},
      {"contains(ns, :one)", true},
      {"size(s) = :one", false},
      {"size(ss) > :one", true},
      {"size(l) < :n", true},
      {"size(m) = :one", false},
      {"size(n) = :one", false},  // size of a number is no size at all
      {"size(absent) = :one", false},
      {"m.#size = :n", false},
      {"NOT attribute_exists(absent)", true},
      {"l[0] = :n OR l[0] > :n", true},
      {"(n = :n)", true},
      {"t = :bool", true},
      {"nul = :bool", false},
  };
  for (const auto& c : cases) {
    ExpressionAttributes attrs = Attributes();
    auto cond = ParseCondition(c.text, ConditionUse::kFilter, attrs);
    ASSERT_TRUE(cond.ok()) << c.text << ": " << cond.status().ToString();
    EXPECT_EQ(EvaluateCondition(*cond, item), c.expected) << c.text;
  }
}

TEST(ExpressionAttributesTest, RequestLevelChecks) {
  auto parse = [](std::string_view names, std::string_view values) {
    auto n = json::Parse(names);
    auto v = json::Parse(values);
    auto a = ExpressionAttributes::FromJson(&*n, &*v);
    return a.ok() ? std::string("OK") : a.status().message();
  };
  EXPECT_EQ(parse("null", "null"), "OK");
  EXPECT_EQ(parse("{}", "null"), "ExpressionAttributeNames must not be empty");
  EXPECT_EQ(parse("null", "{}"), "ExpressionAttributeValues must not be empty");
  EXPECT_EQ(parse(R"({"a":"x"})", "null"),
            "ExpressionAttributeNames contains invalid key: Syntax error; key: "
            "\"a\"");
  EXPECT_EQ(parse("null", R"({"v":{"S":"x"}})"),
            "ExpressionAttributeValues contains invalid key: Syntax error; "
            "key: \"v\"");
  EXPECT_EQ(parse("null", R"({":v":{"NS":[]}})"),
            "ExpressionAttributeValues contains invalid value: One or more "
            "parameter values "
            "were invalid: An number set  may not be empty for key :v");

  auto n = json::Parse(R"({"#a":"a","#b":"b"})");
  auto v = json::Parse(R"({":x":{"S":"x"},":y":{"S":"y"}})");
  auto attrs = ExpressionAttributes::FromJson(&*n, &*v);
  ASSERT_TRUE(attrs.ok());
  ASSERT_TRUE(ParseCondition("#a = :x", ConditionUse::kCondition, *attrs).ok());
  EXPECT_EQ(attrs->CheckAllUsed().message(),
            "Value provided in ExpressionAttributeNames unused in expressions: "
            "keys: {#b}");
  ASSERT_TRUE(ParseProjection("#b", *attrs).ok());
  EXPECT_EQ(attrs->CheckAllUsed().message(),
            "Value provided in ExpressionAttributeValues unused in "
            "expressions: keys: {:y}");
}

std::string UpdateError(std::string_view text) {
  ExpressionAttributes attrs = Attributes();
  auto u = ParseUpdate(text, attrs);
  return u.ok() ? "OK" : u.status().message();
}

TEST(UpdateParseTest, ErrorsInAwsWording) {
  const std::string p = "Invalid UpdateExpression: ";
  struct Case {
    std::string_view text;
    std::string message;
  } cases[] = {
      {"SET a = :s, b = a + :n REMOVE c ADD d :n DELETE e :ss", "OK"},
      {"set a = list_append(if_not_exists(a, :l), :l)", "OK"},
      {"SET a = (b - :one)", "OK"},
      {"SET a = (b) - :one", "OK"},
      {"SET a[1].b = :s", "OK"},
      {"", p + "The expression can not be empty;"},
      {"SET", p + "Syntax error; token: \"<EOF>\", near: \"SET\""},
      {"SET a = :s +", p + "Syntax error; token: \"<EOF>\", near: \"+\""},
      {"SET a = b + c + d", p + "Syntax error; token: \"+\", near: \"c + d\""},
      {"SET a = b / :n", p + "Syntax error; token: \"/\", near: \"b / :n\""},
      {"UPSERT a = :s",
       p + "Syntax error; token: \"UPSERT\", near: \"UPSERT a\""},
      {"ADD a b", p + "Syntax error; token: \"b\", near: \"a b\""},
      {"SET a = :s SET b = :s", p + "The \"SET\" section can only be used once "
                                    "in an update expression;"},
      {"SET a = :s, a = :n", p + "Two document paths overlap with each other; "
                                 "must remove or rewrite one of these "
                                 "paths; path one: [a], path two: [a]"},
      {"SET a = :s REMOVE a.b",
       p + "Two document paths overlap with each other; must remove or rewrite "
           "one of these "
           "paths; path one: [a], path two: [a, b]"},
      {"SET a[0] = :s REMOVE a.b",
       p + "Two document paths conflict with each other; must remove or "
           "rewrite one of these "
           "paths; path one: [a, [0]], path two: [a, b]"},
      {"SET a = :x",
       p + "An expression attribute value used in expression is not defined; "
           "attribute value: :x"},
      {"SET #x = :s",
       p + "An expression attribute name used in the document path is not "
           "defined; attribute name: #x"},
      {"SET a = foo(b)", p + "Invalid function name; function: foo"},
      {"SET a = size(b)", p + "Invalid function name; function: size"},
      {"SET a = if_not_exists(:s, :s)",
       p + "Operator or function requires a document path; operator or "
           "function: "
           "if_not_exists"},
      {"SET a = list_append(:s, :l)", p + "Incorrect operand type for operator "
                                          "or function; operator or function: "
                                          "list_append, operand type: S"},
      {"SET a = :s + :n", p + "Incorrect operand type for operator or "
                              "function; operator or function: +, "
                              "operand type: S"},
      {"SET a = list_append(:l)",
       p + "Incorrect number of operands for operator or function; operator or "
           "function: "
           "list_append, number of operands: 1"},
      {"ADD a :s", p + "Incorrect operand type for operator or function; "
                       "operator: ADD, operand type: "
                       "STRING"},
      {"DELETE a :n", p + "Incorrect operand type for operator or function; "
                          "operator: DELETE, operand type: "
                          "NUMBER"},
      {"SET size = :s",
       p + "Attribute name is a reserved keyword; reserved keyword: size"},
      // Reserved words before everything else; sections before names.
      {"SET size = :x",
       p + "Attribute name is a reserved keyword; reserved keyword: size"},
      {"SET a = :x SET b = :s", p + "The \"SET\" section can only be used once "
                                    "in an update expression;"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(UpdateError(c.text), c.message) << c.text;
  }
}

TEST(UpdateApplyTest, Table) {
  const std::string base =
      R"({"pk":{"S":"k"},"n":{"N":"10"},"s":{"S":"x"},"l":{"L":[{"N":"0"},{"N":"1"},{"N":"2"}]},
          "m":{"M":{"k":{"S":"v"}}},"ss":{"SS":["a","p"]},"ns":{"NS":["1","5"]}})";
  struct Case {
    std::string_view update;
    std::string expected;  // item JSON after, or the error message
  } cases[] = {
      {"SET n = n + :one",
       R"({"l":{"L":[{"N":"0"},{"N":"1"},{"N":"2"}]},"m":{"M":{"k":{"S":"v"}}},"n":{"N":"11"},"ns":{"NS":["1","5"]},"pk":{"S":"k"},"s":{"S":"x"},"ss":{"SS":["a","p"]}})"},
      {"SET n = :one - n, s = n",
       R"({"l":{"L":[{"N":"0"},{"N":"1"},{"N":"2"}]},"m":{"M":{"k":{"S":"v"}}},"n":{"N":"-9"},"ns":{"NS":["1","5"]},"pk":{"S":"k"},"s":{"N":"10"},"ss":{"SS":["a","p"]}})"},
      {"REMOVE l[0], l[2], m.k, s, nothing, m.nothing.deeper",
       R"({"l":{"L":[{"N":"1"}]},"m":{"M":{}},"n":{"N":"10"},"ns":{"NS":["1","5"]},"pk":{"S":"k"},"ss":{"SS":["a","p"]}})"},
      {"SET l[1] = :s, l[10] = :n, m.fresh2 = :l",
       R"({"l":{"L":[{"N":"0"},{"S":"x"},{"N":"2"},{"N":"5"}]},"m":{"M":{"fresh2":{"L":[{"N":"9"}]},"k":{"S":"v"}}},"n":{"N":"10"},"ns":{"NS":["1","5"]},"pk":{"S":"k"},"s":{"S":"x"},"ss":{"SS":["a","p"]}})"},
      {"SET l = list_append(l, :l), x = if_not_exists(x, :n), n = "
       "if_not_exists(n, :one)",
       R"({"l":{"L":[{"N":"0"},{"N":"1"},{"N":"2"},{"N":"9"}]},"m":{"M":{"k":{"S":"v"}}},"n":{"N":"10"},"ns":{"NS":["1","5"]},"pk":{"S":"k"},"s":{"S":"x"},"ss":{"SS":["a","p"]},"x":{"N":"5"}})"},
      {"ADD n :n, ss :ss, ns :ns, fresh :one",
       R"({"fresh":{"N":"1"},"l":{"L":[{"N":"0"},{"N":"1"},{"N":"2"}]},"m":{"M":{"k":{"S":"v"}}},"n":{"N":"15"},"ns":{"NS":["1","2","5"]},"pk":{"S":"k"},"s":{"S":"x"},"ss":{"SS":["a","p","q"]}})"},
      {"DELETE ss :ss, ns :ns",
       R"({"l":{"L":[{"N":"0"},{"N":"1"},{"N":"2"}]},"m":{"M":{"k":{"S":"v"}}},"n":{"N":"10"},"ns":{"NS":["5"]},"pk":{"S":"k"},"s":{"S":"x"},"ss":{"SS":["a"]}})"},
      {"SET x = nothing",
       "The provided expression refers to an attribute that does not exist in "
       "the item"},
      {"SET x = s + :one",
       "An operand in the update expression has an incorrect data type"},
      {"SET x = list_append(s, :l)",
       "An operand in the update expression has an incorrect data type"},
      {"SET nothing.x = :s",
       "The document path provided in the update expression is invalid for "
       "update"},
      {"SET s.x = :s",
       "The document path provided in the update expression is invalid for "
       "update"},
      {"ADD s :one",
       "An operand in the update expression has an incorrect data type"},
      {"DELETE ns :ss",
       "An operand in the update expression has an incorrect data type"},
  };
  for (const auto& c : cases) {
    ExpressionAttributes attrs = Attributes();
    auto update = ParseUpdate(c.update, attrs);
    ASSERT_TRUE(update.ok()) << c.update << ": " << update.status().ToString();
    Item item = I(base);
    Status s = ApplyUpdate(*update, &item);
    EXPECT_EQ(s.ok() ? ItemToJson(item) : s.message(), c.expected) << c.update;
  }
}

TEST(UpdateApplyTest, DeletingTheLastMembersRemovesTheSet) {
  ExpressionAttributes attrs = Attributes();
  auto update = ParseUpdate("DELETE ss :ss", attrs);
  ASSERT_TRUE(update.ok());
  Item item = I(R"({"ss":{"SS":["p","q"]}})");
  ASSERT_TRUE(ApplyUpdate(*update, &item).ok());
  EXPECT_TRUE(item.empty());
}

TEST(UpdateApplyTest, ArithmeticIsExact) {
  ExpressionAttributes attrs(
      {},
      {{":a", V(R"({"N":"0.1"})")},
       {":big", V(R"({"N":"9.9999999999999999999999999999999999999e125"})")}});
  auto update = ParseUpdate("SET x = x + :a", attrs);
  ASSERT_TRUE(update.ok());
  Item item = I(R"({"x":{"N":"0.2"}})");
  ASSERT_TRUE(ApplyUpdate(*update, &item).ok());
  EXPECT_EQ(item["x"].number().ToString(), "0.3");

  auto overflow = ParseUpdate("ADD x :big", attrs);
  ASSERT_TRUE(overflow.ok());
  item = I(R"({"x":{"N":"1e125"}})");
  EXPECT_EQ(ApplyUpdate(*overflow, &item).message(),
            "Number overflow. Attempting to store a number with magnitude "
            "larger than supported "
            "range");
}

TEST(ProjectionTest, ParseAndApply) {
  ExpressionAttributes attrs = Attributes();
  auto paths = ParseProjection("#a, l[2], l[0].x, m.k, absent", attrs);
  ASSERT_TRUE(paths.ok()) << paths.status().ToString();
  Item item = I(R"({"a":{"S":"1"},"b":{"S":"2"},
      "l":{"L":[{"M":{"x":{"N":"1"},"y":{"N":"2"}}},{"S":"skip"},{"S":"keep"}]},
      "m":{"M":{"k":{"S":"v"},"other":{"S":"o"}}}})");
  EXPECT_EQ(
      ItemToJson(Project(item, *paths)),
      R"({"a":{"S":"1"},"l":{"L":[{"M":{"x":{"N":"1"}}},{"S":"keep"}]},"m":{"M":{"k":{"S":"v"}}}})");

  auto err = [](std::string_view text) {
    ExpressionAttributes a = Attributes();
    auto p = ParseProjection(text, a);
    return p.ok() ? std::string("OK") : p.status().message();
  };
  EXPECT_EQ(
      err("a, a.b"),
      "Invalid ProjectionExpression: Two document paths overlap with each "
      "other; must "
      "remove or rewrite one of these paths; path one: [a], path two: [a, b]");
  EXPECT_EQ(err("a,"),
            "Invalid ProjectionExpression: Syntax error; token: \"<EOF>\", "
            "near: \",\"");
  EXPECT_EQ(err("a b"),
            "Invalid ProjectionExpression: Syntax error; token: \"b\", near: "
            "\"a b\"");
  EXPECT_EQ(err("name"),
            "Invalid ProjectionExpression: Attribute name is a reserved "
            "keyword; reserved "
            "keyword: name");
}

TEST(KeyConditionTest, ExtractsAndRejects) {
  auto extract =
      [](std::string_view text) -> Result<std::vector<KeyCondition>> {
    ExpressionAttributes attrs = Attributes();
    ASSIGN_OR_RETURN(Condition c,
                     ParseCondition(text, ConditionUse::kKeyCondition, attrs));
    return ExtractKeyConditions(c);
  };
  auto ok = extract("#a = :s AND :n > b");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[0].attribute, "a");
  EXPECT_EQ((*ok)[0].op, KeyCondition::Op::kEq);
  EXPECT_EQ((*ok)[1].attribute, "b");
  EXPECT_EQ((*ok)[1].op, KeyCondition::Op::kLt);  // flipped: b < 5
  EXPECT_EQ((*ok)[1].values[0], V(R"({"N":"5"})"));

  auto between = extract("a = :s AND b BETWEEN :one AND :n");
  ASSERT_TRUE(between.ok());
  EXPECT_EQ((*between)[1].op, KeyCondition::Op::kBetween);
  EXPECT_EQ((*between)[1].values.size(), 2u);

  const std::string p = "Invalid KeyConditionExpression: ";
  struct Case {
    std::string_view text;
    std::string message;
  } cases[] = {
      {"a = :s OR b = :s",
       p + "Invalid operator used in KeyConditionExpression: OR"},
      {"NOT a = :s",
       p + "Invalid operator used in KeyConditionExpression: NOT"},
      {"a IN (:s)", p + "Invalid operator used in KeyConditionExpression: IN"},
      {"a <> :s", p + "Invalid operator used in KeyConditionExpression: <>"},
      {"attribute_exists(a)",
       p + "Invalid operator used in KeyConditionExpression: attribute_exists"},
      {"size(a) = :n",
       p + "KeyConditionExpressions cannot contain nested operations"},
      {"a = :s AND a = :s",
       p + "KeyConditionExpressions must only contain one condition per key"},
      {"a.b = :s", p + "KeyConditionExpressions cannot have conditions on "
                       "nested attributes"},
      {":s = :s", p + "Invalid condition in KeyConditionExpression: No key "
                      "attribute specified"},
      {"a = b", p + "Invalid condition in KeyConditionExpression: Multiple "
                    "attribute names used "
                    "in one condition"},
      {"begins_with(:s, a)", p + "Invalid condition in KeyConditionExpression: "
                                 "begins_with operator must have the key "
                                 "attribute as its first operand"},
  };
  for (const auto& c : cases) {
    auto r = extract(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().message(), c.message) << c.text;
  }
}

TEST(ReservedWordsTest, CaseInsensitive) {
  EXPECT_TRUE(IsReservedWord("name"));
  EXPECT_TRUE(IsReservedWord("Status"));
  EXPECT_TRUE(IsReservedWord("TTL"));
  EXPECT_FALSE(IsReservedWord("payment_id"));
  EXPECT_FALSE(IsReservedWord("pk"));
}

}  // namespace
}  // namespace riffle::tables
