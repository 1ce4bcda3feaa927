// The expression parsers. One lexer and one recursive-descent parser build
// a generic tree (Expr) for every expression kind; a checking pass then
// turns it into the public AST, recording DynamoDB's semantic errors by
// category so that the one AWS would report wins.
#include "tables/expressions.h"

#include <algorithm>
#include <array>

#include "tables/attribute_json.h"

namespace riffle::tables {
namespace {

// ---------------------------------------------------------------- lexing

struct Token {
  enum class Kind { kIdent, kName, kValue, kNumber, kPunct, kBad, kEof };
  Kind kind = Kind::kEof;
  std::string_view text;
  size_t begin = 0;
  size_t end = 0;
};

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentPart(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

std::vector<Token> Lex(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (true) {
    while (i < s.size() &&
           (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
      ++i;
    Token t;
    t.begin = i;
    if (i == s.size()) {
      t.kind = Token::Kind::kEof;
      t.text = "<EOF>";
      t.end = i;
      out.push_back(t);
      return out;
    }
    char c = s[i];
    size_t j = i + 1;
    if (IsIdentStart(c) || c == '#' || c == ':') {
      while (j < s.size() && IsIdentPart(s[j])) ++j;
      t.kind = c == '#'   ? Token::Kind::kName
               : c == ':' ? Token::Kind::kValue
                          : Token::Kind::kIdent;
    } else if (c >= '0' && c <= '9') {
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      t.kind = Token::Kind::kNumber;
    } else if (c == '<' || c == '>') {
      if (j < s.size() && (s[j] == '=' || (c == '<' && s[j] == '>'))) ++j;
      t.kind = Token::Kind::kPunct;
    } else if (std::string_view("()[],.=+-").find(c) !=
               std::string_view::npos) {
      t.kind = Token::Kind::kPunct;
    } else {
      // One whole UTF-8 character, so that messages stay valid UTF-8.
      unsigned char u = static_cast<unsigned char>(c);
      size_t len = u >= 0xf0 ? 4 : u >= 0xe0 ? 3 : u >= 0xc0 ? 2 : 1;
      j = std::min(s.size(), i + len);
      t.kind = Token::Kind::kBad;
    }
    t.end = j;
    t.text = s.substr(i, j - i);
    out.push_back(t);
    i = j;
  }
}

bool KeywordIs(const Token& t, std::string_view word) {
  if (t.kind != Token::Kind::kIdent || t.text.size() != word.size())
    return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(t.text[i])) != word[i])
      return false;
  }
  return true;
}

// --------------------------------------------------------- generic tree

struct Expr {
  enum class Kind {
    kPath,
    kValue,
    kCall,
    kCompare,
    kBetween,
    kIn,
    kAnd,
    kOr,
    kNot,
    kPlus,
    kMinus
  };
  Kind kind = Kind::kPath;
  DocumentPath path;
  const AttributeValue* value = nullptr;  // kValue; null when undefined
  std::string name;                       // kCall: function name
  Comparator op = Comparator::kEq;
  std::string op_text;  // "=", "<>", ...
  std::vector<Expr> args;
  int parens = 0;  // parenthesis pairs directly around this node
  size_t token = 0;

  // Operands that can never stand for a condition (a call may).
  bool is_plain_operand() const {
    return kind == Kind::kPath || kind == Kind::kValue || kind == Kind::kPlus ||
           kind == Kind::kMinus;
  }
  bool is_operand() const {
    return kind == Kind::kPath || kind == Kind::kValue || kind == Kind::kCall ||
           kind == Kind::kPlus || kind == Kind::kMinus;
  }
};

// Semantic error categories. Each keeps its first message; the grammar's
// precedence list picks the one to report.
enum class Category {
  kParens,
  kUnknownFunction,
  kMisusedFunction,
  kReserved,
  kSection,
  kAttrName,
  kAttrVal,
  kAttrNameVal,  // conditions: names and values share one slot
  kOperandCount,
  kDistinct,
  kFunction,
  kPathOverlap,
  kPathConflict,
  kOperand,
  kLimit,
};

class Errors {
 public:
  void Add(Category c, std::string message) {
    slots_.try_emplace(c, std::move(message));
  }
  bool Has(Category c) const { return slots_.count(c) > 0; }
  const std::string* First(std::initializer_list<Category> order) const {
    for (Category c : order) {
      auto it = slots_.find(c);
      if (it != slots_.end()) return &it->second;
    }
    return nullptr;
  }

 private:
  std::map<Category, std::string> slots_;
};

// Parentheses, NOT and function calls nest at most this deep. Deeper input
// is refused before it can exhaust the stack.
constexpr int kMaxNesting = 200;

bool IsPlainOperand(const Expr& e) { return e.is_plain_operand(); }

class Parser {
 public:
  Parser(std::string_view text, std::string_view what,
         ExpressionAttributes& attributes, bool update)
      : text_(text),
        what_(what),
        attributes_(attributes),
        update_(update),
        tokens_(Lex(text)) {}

  Errors& errors() { return errors_; }
  Status Fail(std::string_view message) const {
    return InvalidArgument("Invalid " + std::string(what_) + ": " +
                           std::string(message));
  }
  // "Syntax error; token: "x", near: "a x b"": the offending token with its
  // neighbours, as DynamoDB quotes them.
  Status SyntaxError() const {
    const Token& t = tokens_[pos_];
    size_t from = pos_ > 0 ? tokens_[pos_ - 1].begin : t.begin;
    size_t to = t.end;
    if (t.kind == Token::Kind::kEof) {
      to = pos_ > 0 ? tokens_[pos_ - 1].end : 0;
    } else if (pos_ + 1 < tokens_.size() &&
               tokens_[pos_ + 1].kind != Token::Kind::kEof) {
      to = tokens_[pos_ + 1].end;
    }
    return Fail("Syntax error; token: \"" + std::string(t.text) +
                "\", near: \"" + std::string(text_.substr(from, to - from)) +
                "\"");
  }

  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  bool AtPunct(std::string_view p) const {
    return Peek().kind == Token::Kind::kPunct && Peek().text == p;
  }
  bool AtEof() const { return Peek().kind == Token::Kind::kEof; }
  void Advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  Status Expect(std::string_view p) {
    if (!AtPunct(p)) return SyntaxError();
    Advance();
    return Status::Ok();
  }

  void CountOperator() { ++operators_; }
  int operators() const { return operators_; }

  // path := element ('.' element | '[' number ']')*
  Result<DocumentPath> ParsePath() {
    DocumentPath path;
    RETURN_IF_ERROR(ParsePathName(&path));
    while (true) {
      if (AtPunct(".")) {
        Advance();
        RETURN_IF_ERROR(ParsePathName(&path));
      } else if (AtPunct("[")) {
        Advance();
        if (Peek().kind != Token::Kind::kNumber) return SyntaxError();
        std::string_view digits = Peek().text;
        uint64_t index = 0;
        for (char c : digits) {
          index = index * 10 + static_cast<uint64_t>(c - '0');
          if (index > UINT32_MAX) return SyntaxError();
        }
        Advance();
        RETURN_IF_ERROR(Expect("]"));
        PathElement e;
        e.is_index = true;
        e.index = static_cast<uint32_t>(index);
        path.push_back(std::move(e));
      } else {
        break;
      }
    }
    if (path.size() > static_cast<size_t>(kMaxPathDepth)) {
      errors_.Add(
          Category::kLimit,
          "The document path has too many nesting levels; nesting levels: " +
              std::to_string(path.size()));
    }
    return path;
  }

  // The value an :name stands for, recording an error when undefined.
  const AttributeValue* ResolveValue(std::string_view key) {
    const AttributeValue* v = attributes_.Value(key);
    if (v == nullptr) {
      errors_.Add(
          update_ ? Category::kAttrVal : Category::kAttrNameVal,
          "An expression attribute value used in expression is not defined; "
          "attribute value: " +
              std::string(key));
    }
    return v;
  }

  // operand := name '(' args ')' | :value | path
  Result<Expr> ParseOperand(bool allow_conditions_in_args, int depth) {
    Expr e;
    e.token = pos_;
    const Token& t = Peek();
    if (t.kind == Token::Kind::kValue) {
      e.kind = Expr::Kind::kValue;
      e.value = ResolveValue(t.text);
      Advance();
      return e;
    }
    if (t.kind == Token::Kind::kIdent && Peek(1).kind == Token::Kind::kPunct &&
        Peek(1).text == "(") {
      e.kind = Expr::Kind::kCall;
      e.name = std::string(t.text);
      Advance();
      Advance();
      CountOperator();
      if (++nesting_ > kMaxNesting) return TooDeep();
      while (true) {
        Expr arg;
        if (allow_conditions_in_args) {
          ASSIGN_OR_RETURN(arg, ParseOr(depth + 1));
        } else {
          ASSIGN_OR_RETURN(arg, ParseUpdateOperandParens(depth + 1));
        }
        e.args.push_back(std::move(arg));
        if (AtPunct(",")) {
          Advance();
          continue;
        }
        break;
      }
      RETURN_IF_ERROR(Expect(")"));
      --nesting_;
      return e;
    }
    if (t.kind == Token::Kind::kIdent || t.kind == Token::Kind::kName) {
      e.kind = Expr::Kind::kPath;
      ASSIGN_OR_RETURN(e.path, ParsePath());
      return e;
    }
    return SyntaxError();
  }

  // ------------------------------------------------ condition grammar
  // or := and (OR and)*; and := not (AND not)*; not := NOT not | cmp
  // cmp := primary [comparator primary | BETWEEN primary AND primary |
  //                 IN '(' primary (',' primary)* ')']
  // primary := '(' or ')' | operand
  Result<Expr> ParseOr(int depth) {
    ASSIGN_OR_RETURN(Expr left, ParseAnd(depth + 1));
    while (KeywordIs(Peek(), "OR")) {
      if (IsPlainOperand(left)) return SyntaxError();
      Advance();
      CountOperator();
      ASSIGN_OR_RETURN(Expr right, ParseAnd(depth + 1));
      left = Binary(Expr::Kind::kOr, std::move(left), std::move(right));
    }
    return left;
  }

  Result<Expr> ParseAnd(int depth) {
    ASSIGN_OR_RETURN(Expr left, ParseNot(depth + 1));
    while (KeywordIs(Peek(), "AND")) {
      if (IsPlainOperand(left)) return SyntaxError();
      Advance();
      CountOperator();
      ASSIGN_OR_RETURN(Expr right, ParseNot(depth + 1));
      left = Binary(Expr::Kind::kAnd, std::move(left), std::move(right));
    }
    return left;
  }

  Result<Expr> ParseNot(int depth) {
    if (KeywordIs(Peek(), "NOT")) {
      Expr e;
      e.kind = Expr::Kind::kNot;
      e.token = pos_;
      Advance();
      CountOperator();
      if (++nesting_ > kMaxNesting) return TooDeep();
      ASSIGN_OR_RETURN(Expr inner, ParseNot(depth + 1));
      --nesting_;
      if (IsPlainOperand(inner)) return SyntaxError();
      e.args.push_back(std::move(inner));
      return e;
    }
    return ParseComparison(depth + 1);
  }

  Result<Expr> ParseComparison(int depth) {
    ASSIGN_OR_RETURN(Expr left, ParsePrimary(depth + 1));
    const Token& t = Peek();
    static constexpr std::array<std::pair<std::string_view, Comparator>, 6>
        kComparators = {{
            {"=", Comparator::kEq},
            {"<>", Comparator::kNe},
            {"<", Comparator::kLt},
            {"<=", Comparator::kLe},
            {">", Comparator::kGt},
            {">=", Comparator::kGe},
        }};
    if (t.kind == Token::Kind::kPunct) {
      for (const auto& [text, op] : kComparators) {
        if (t.text != text) continue;
        Expr e;
        e.kind = Expr::Kind::kCompare;
        e.op = op;
        e.op_text = std::string(text);
        e.token = pos_;
        Advance();
        CountOperator();
        ASSIGN_OR_RETURN(Expr right, ParsePrimary(depth + 1));
        e.args.push_back(std::move(left));
        e.args.push_back(std::move(right));
        return e;
      }
    }
    if (KeywordIs(t, "BETWEEN")) {
      Expr e;
      e.kind = Expr::Kind::kBetween;
      e.token = pos_;
      Advance();
      CountOperator();
      ASSIGN_OR_RETURN(Expr low, ParsePrimary(depth + 1));
      if (!KeywordIs(Peek(), "AND")) return SyntaxError();
      Advance();
      ASSIGN_OR_RETURN(Expr high, ParsePrimary(depth + 1));
      e.args.push_back(std::move(left));
      e.args.push_back(std::move(low));
      e.args.push_back(std::move(high));
      return e;
    }
    if (KeywordIs(t, "IN")) {
      Expr e;
      e.kind = Expr::Kind::kIn;
      e.token = pos_;
      Advance();
      CountOperator();
      RETURN_IF_ERROR(Expect("("));
      e.args.push_back(std::move(left));
      while (true) {
        ASSIGN_OR_RETURN(Expr candidate, ParsePrimary(depth + 1));
        e.args.push_back(std::move(candidate));
        if (!AtPunct(",")) break;
        Advance();
      }
      RETURN_IF_ERROR(Expect(")"));
      return e;
    }
    return left;
  }

  Result<Expr> ParsePrimary(int depth) {
    if (AtPunct("(")) {
      if (++nesting_ > kMaxNesting) return TooDeep();
      Advance();
      ASSIGN_OR_RETURN(Expr inner, ParseOr(depth + 1));
      RETURN_IF_ERROR(Expect(")"));
      --nesting_;
      ++inner.parens;
      if (inner.parens >= 2)
        errors_.Add(Category::kParens,
                    "The expression has redundant parentheses;");
      return inner;
    }
    return ParseOperand(/*allow_conditions_in_args=*/true, depth);
  }

  // --------------------------------------------------- update grammar
  // operandP := '(' operand ')' | operand
  Result<Expr> ParseUpdateOperandParens(int depth) {
    if (AtPunct("(")) {
      if (++nesting_ > kMaxNesting) return TooDeep();
      Advance();
      ASSIGN_OR_RETURN(Expr inner, ParseOperand(false, depth + 1));
      RETURN_IF_ERROR(Expect(")"));
      --nesting_;
      ++inner.parens;
      return inner;
    }
    return ParseOperand(false, depth + 1);
  }

  // setvalue := '(' value ')' | value; value := operandP [('+'|'-') operandP]
  Result<Expr> ParseSetValue(int depth) {
    // "(a + b)" and "(a)" both start with '('; only the first needs this
    // level, so look for a +/- before the matching ')'.
    if (AtPunct("(")) {
      size_t save = pos_;
      Advance();
      auto inner = ParseSetValueInner(depth + 1);
      if (inner.ok() && AtPunct(")")) {
        Advance();
        if (inner->kind == Expr::Kind::kPlus ||
            inner->kind == Expr::Kind::kMinus) {
          return inner;
        }
        // "(a)" followed by + or -: an operand in parentheses after all.
        if (!AtPunct("+") && !AtPunct("-")) return inner;
      }
      pos_ = save;
    }
    return ParseSetValueInner(depth);
  }

  Result<Expr> ParseSetValueInner(int depth) {
    ASSIGN_OR_RETURN(Expr left, ParseUpdateOperandParens(depth + 1));
    if (AtPunct("+") || AtPunct("-")) {
      Expr e;
      e.kind = AtPunct("+") ? Expr::Kind::kPlus : Expr::Kind::kMinus;
      e.name = std::string(Peek().text);
      e.token = pos_;
      Advance();
      CountOperator();
      ASSIGN_OR_RETURN(Expr right, ParseUpdateOperandParens(depth + 1));
      e.args.push_back(std::move(left));
      e.args.push_back(std::move(right));
      return e;
    }
    return left;
  }

 private:
  Status TooDeep() {
    // Only redundant parentheses or more than 300 operators nest this
    // deep; answer at once instead of descending further.
    return Fail("The expression has redundant parentheses;");
  }

  static Expr Binary(Expr::Kind kind, Expr left, Expr right) {
    Expr e;
    e.kind = kind;
    e.token = left.token;
    e.args.push_back(std::move(left));
    e.args.push_back(std::move(right));
    return e;
  }

  Status ParsePathName(DocumentPath* path) {
    const Token& t = Peek();
    PathElement e;
    if (t.kind == Token::Kind::kIdent) {
      if (IsReservedWord(t.text)) {
        errors_.Add(Category::kReserved,
                    "Attribute name is a reserved keyword; reserved keyword: " +
                        std::string(t.text));
      }
      e.name = std::string(t.text);
    } else if (t.kind == Token::Kind::kName) {
      const std::string* name = attributes_.Name(t.text);
      if (name == nullptr) {
        errors_.Add(update_ ? Category::kAttrName : Category::kAttrNameVal,
                    "An expression attribute name used in the document path is "
                    "not defined; "
                    "attribute name: " +
                        std::string(t.text));
      } else {
        e.name = *name;
      }
    } else {
      return SyntaxError();
    }
    Advance();
    path->push_back(std::move(e));
    return Status::Ok();
  }

  std::string_view text_;
  std::string_view what_;
  ExpressionAttributes& attributes_;
  bool update_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int operators_ = 0;
  int nesting_ = 0;
  Errors errors_;
};

// ------------------------------------------------------------ checking

std::string_view TypeOf(const Expr& e) {
  if (e.kind == Expr::Kind::kValue && e.value != nullptr)
    return AttributeTypeName(e.value->type());
  if (e.kind == Expr::Kind::kCall && e.name == "size") return "N";
  return {};
}

// Only an immediate value's type (update checks do not look through
// functions).
std::string_view ImmediateTypeOf(const Expr& e) {
  if (e.kind == Expr::Kind::kValue && e.value != nullptr)
    return AttributeTypeName(e.value->type());
  return {};
}

std::string FunctionForMessage(const Expr& e) { return e.name; }

class ConditionChecker {
 public:
  ConditionChecker(Parser& parser, ConditionUse use)
      : parser_(parser), use_(use) {}

  // A node in condition position.
  Result<Condition> ToCondition(const Expr& e) {
    Condition c;
    switch (e.kind) {
      case Expr::Kind::kAnd:
      case Expr::Kind::kOr:
      case Expr::Kind::kNot: {
        c.kind = e.kind == Expr::Kind::kAnd  ? Condition::Kind::kAnd
                 : e.kind == Expr::Kind::kOr ? Condition::Kind::kOr
                                             : Condition::Kind::kNot;
        for (const Expr& a : e.args) {
          if (a.kind == Expr::Kind::kCall && a.name == "size")
            MisusedFunction(a);
          ASSIGN_OR_RETURN(Condition child, ToCondition(a));
          c.children.push_back(std::move(child));
        }
        return c;
      }
      case Expr::Kind::kCompare: {
        c.kind = Condition::Kind::kCompare;
        c.op = e.op;
        ASSIGN_OR_RETURN(c.operands, Operands(e.args));
        CheckDistinct(e.op_text, e.args);
        return c;
      }
      case Expr::Kind::kBetween: {
        c.kind = Condition::Kind::kBetween;
        ASSIGN_OR_RETURN(c.operands, Operands(e.args));
        CheckBetween(e.args[1], e.args[2]);
        return c;
      }
      case Expr::Kind::kIn: {
        c.kind = Condition::Kind::kIn;
        ASSIGN_OR_RETURN(c.operands, Operands(e.args));
        if (static_cast<int>(e.args.size()) - 1 > kMaxInOperands) {
          parser_.errors().Add(
              Category::kLimit,
              "The IN operator is provided with too many operands; number of "
              "operands: " +
                  std::to_string(e.args.size() - 1));
        }
        return c;
      }
      case Expr::Kind::kCall:
        return FunctionCondition(e);
      default:
        // An operand where a condition belongs: DynamoDB's grammar fails at
        // the token after it, where the parser now stands.
        return parser_.SyntaxError();
    }
  }

 private:
  void MisusedFunction(const Expr& e) {
    parser_.errors().Add(
        Category::kMisusedFunction,
        "The function is not allowed to be used this way in an expression; "
        "function: " +
            FunctionForMessage(e));
  }

  void FunctionError(std::string message) {
    parser_.errors().Add(Category::kFunction, std::move(message));
  }

  // Operands of comparators, BETWEEN, IN and function arguments.
  Result<std::vector<Operand>> Operands(const std::vector<Expr>& args) {
    std::vector<Operand> out;
    for (const Expr& a : args) {
      if (a.kind == Expr::Kind::kCall && a.name != "size") MisusedFunction(a);
      ASSIGN_OR_RETURN(Operand o, ToOperand(a));
      out.push_back(std::move(o));
    }
    return out;
  }

  Result<Operand> ToOperand(const Expr& e) {
    Operand o;
    switch (e.kind) {
      case Expr::Kind::kPath:
        o.kind = Operand::Kind::kPath;
        o.path = e.path;
        return o;
      case Expr::Kind::kValue:
        o.kind = Operand::Kind::kValue;
        if (e.value != nullptr) o.value = *e.value;
        return o;
      case Expr::Kind::kCall: {
        if (!KnownFunction(e)) return o;
        o.kind = Operand::Kind::kSize;
        if (e.name == "size") {
          if (CheckArity(e, 1) && e.args[0].is_operand()) {
            std::string_view t = TypeOf(e.args[0]);
            if (t == "N" || t == "BOOL" || t == "NULL") {
              FunctionError(
                  "Incorrect operand type for operator or function; operator "
                  "or "
                  "function: size, operand type: " +
                  std::string(t));
            }
            ASSIGN_OR_RETURN(Operand arg, ToOperand(e.args[0]));
            o.args.push_back(std::move(arg));
          } else if (!e.args.empty() && !e.args[0].is_operand()) {
            return parser_.SyntaxError();
          }
          return o;
        }
        // Another function where an operand belongs: reported as misused;
        // its own arguments are still checked.
        for (const Expr& a : e.args) {
          if (a.is_operand()) {
            ASSIGN_OR_RETURN(Operand ignored, ToOperand(a));
          }
        }
        return o;
      }
      default:
        return parser_.SyntaxError();
    }
  }

  bool KnownFunction(const Expr& e) {
    static constexpr std::array<std::string_view, 6> kFunctions = {
        "attribute_exists", "attribute_not_exists",
        "attribute_type",   "begins_with",
        "contains",         "size"};
    if (std::find(kFunctions.begin(), kFunctions.end(), e.name) ==
        kFunctions.end()) {
      parser_.errors().Add(Category::kUnknownFunction,
                           "Invalid function name; function: " + e.name);
      return false;
    }
    return true;
  }

  bool CheckArity(const Expr& e, size_t n) {
    if (e.args.size() != n) {
      parser_.errors().Add(
          Category::kOperandCount,
          "Incorrect number of operands for operator or function; operator or "
          "function: " +
              e.name +
              ", number of operands: " + std::to_string(e.args.size()));
      return false;
    }
    return true;
  }

  void CheckDistinct(const std::string& op, const std::vector<Expr>& args) {
    if (args.size() != 2 || args[0].kind != Expr::Kind::kPath ||
        args[1].kind != Expr::Kind::kPath || args[0].path != args[1].path) {
      return;
    }
    parser_.errors().Add(
        Category::kDistinct,
        "The first operand must be distinct from the remaining operands for "
        "this operator or function; operator: " +
            op + ", first operand: " + PathForMessage(args[0].path));
  }

  void CheckBetween(const Expr& low, const Expr& high) {
    if (low.kind != Expr::Kind::kValue || high.kind != Expr::Kind::kValue ||
        !low.value || !high.value) {
      return;
    }
    std::string bounds =
        "lower bound operand: " + AttributeValueForMessage(*low.value) +
        ", upper bound operand: " + AttributeValueForMessage(*high.value);
    if (low.value->type() != high.value->type()) {
      FunctionError(
          "The BETWEEN operator requires same data type for lower and upper "
          "bounds; " +
          bounds);
    } else if (CompareKeyValues(*low.value, *high.value) > 0) {
      FunctionError(
          "The BETWEEN operator requires upper bound to be greater than or "
          "equal to lower "
          "bound; " +
          bounds);
    }
  }

  Result<Condition> FunctionCondition(const Expr& e) {
    Condition c;
    if (!KnownFunction(e)) return c;
    if (e.name == "size") {
      MisusedFunction(e);
      return c;
    }
    for (const Expr& a : e.args) {
      if (!a.is_operand()) return parser_.SyntaxError();
    }
    ASSIGN_OR_RETURN(c.operands, Operands(e.args));
    size_t arity =
        (e.name == "attribute_exists" || e.name == "attribute_not_exists") ? 1
                                                                           : 2;
    if (!CheckArity(e, arity)) return c;
    CheckDistinct(e.name, e.args);
    if (e.name == "attribute_exists" || e.name == "attribute_not_exists") {
      c.kind = e.name == "attribute_exists"
                   ? Condition::Kind::kAttributeExists
                   : Condition::Kind::kAttributeNotExists;
      if (e.args[0].kind != Expr::Kind::kPath) {
        FunctionError(
            "Operator or function requires a document path; operator or "
            "function: " +
            e.name);
      }
    } else if (e.name == "attribute_type") {
      c.kind = Condition::Kind::kAttributeType;
      std::string_view t = TypeOf(e.args[1]);
      if (t != "S") {
        FunctionError(
            "Incorrect operand type for operator or function; operator or "
            "function: "
            "attribute_type, operand type: " +
            (t.empty() ? std::string("{NS,SS,L,BS,N,M,B,BOOL,NULL,S}")
                       : std::string(t)));
      } else {
        AttributeType ignored;
        const std::string& name = e.args[1].value->bytes();
        if (!AttributeTypeFromName(name, &ignored)) {
          FunctionError("Invalid attribute type name found; type: " + name +
                        ", valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}");
        }
      }
      if (e.args[0].kind != Expr::Kind::kPath) {
        FunctionError(
            "Operator or function requires a document path; operator or "
            "function: " +
            e.name);
      }
    } else if (e.name == "begins_with") {
      c.kind = Condition::Kind::kBeginsWith;
      for (const Expr& a : e.args) {
        std::string_view t = TypeOf(a);
        if (!t.empty() && t != "S" && t != "B") {
          FunctionError(
              "Incorrect operand type for operator or function; operator or "
              "function: begins_with, operand type: " +
              std::string(t));
          break;
        }
      }
    } else {
      c.kind = Condition::Kind::kContains;
    }
    return c;
  }

  Parser& parser_;
  [[maybe_unused]] ConditionUse use_;
};

std::string_view ConditionName(ConditionUse use) {
  switch (use) {
    case ConditionUse::kCondition:
      return "ConditionExpression";
    case ConditionUse::kFilter:
      return "FilterExpression";
    case ConditionUse::kKeyCondition:
      return "KeyConditionExpression";
  }
  return "ConditionExpression";
}

Status CheckSize(std::string_view text, const Parser& parser) {
  if (text.empty()) return parser.Fail("The expression can not be empty;");
  if (text.size() > kMaxExpressionBytes) {
    return parser.Fail(
        "Expression size has exceeded the maximum allowed size; expression "
        "size: " +
        std::to_string(text.size()));
  }
  return Status::Ok();
}

Status CheckOperatorCount(const Parser& parser) {
  if (parser.operators() > kMaxOperators) {
    return parser.Fail(
        "The expression contains too many operators; operator count: " +
        std::to_string(parser.operators()));
  }
  return Status::Ok();
}

// Update and projection paths may neither repeat nor contain one another
// (overlap), nor use one step as both a name and an index (conflict).
void CheckPaths(const std::vector<const DocumentPath*>& paths, Errors& errors) {
  for (size_t j = 1; j < paths.size(); ++j) {
    for (size_t i = 0; i < j; ++i) {
      const DocumentPath& a = *paths[i];
      const DocumentPath& b = *paths[j];
      size_t n = std::min(a.size(), b.size());
      bool differ = false;
      for (size_t k = 0; k < n; ++k) {
        if (a[k].is_index != b[k].is_index) {
          errors.Add(Category::kPathConflict,
                     "Two document paths conflict with each other; must remove "
                     "or rewrite one "
                     "of these paths; path one: " +
                         PathForMessage(a) +
                         ", path two: " + PathForMessage(b));
          differ = true;
          break;
        }
        if (a[k] != b[k]) {
          differ = true;
          break;
        }
      }
      if (!differ) {
        errors.Add(Category::kPathOverlap,
                   "Two document paths overlap with each other; must remove or "
                   "rewrite one of "
                   "these paths; path one: " +
                       PathForMessage(a) + ", path two: " + PathForMessage(b));
      }
    }
  }
}

bool ValidAttributeKey(std::string_view key, char lead) {
  if (key.size() < 2 || key[0] != lead) return false;
  for (size_t i = 1; i < key.size(); ++i) {
    if (!IsIdentPart(key[i])) return false;
  }
  return true;
}

}  // namespace

// ------------------------------------------------------------ public API

std::string PathForMessage(const DocumentPath& path) {
  std::string s = "[";
  for (size_t i = 0; i < path.size(); ++i) {
    if (i > 0) s += ", ";
    if (path[i].is_index) {
      s += "[" + std::to_string(path[i].index) + "]";
    } else {
      s += path[i].name;
    }
  }
  return s + "]";
}

Result<ExpressionAttributes> ExpressionAttributes::FromJson(
    const json::Value* names, const json::Value* values) {
  ExpressionAttributes out;
  if (names != nullptr && !names->is_null()) {
    if (names->members().empty()) {
      return InvalidArgument("ExpressionAttributeNames must not be empty");
    }
    for (const auto& [k, v] : names->members()) {
      if (!ValidAttributeKey(k, '#')) {
        return InvalidArgument(
            "ExpressionAttributeNames contains invalid key: Syntax error; key: "
            "\"" +
            k + "\"");
      }
      out.names_[k] = v.text();
    }
  }
  if (values != nullptr && !values->is_null()) {
    if (values->members().empty()) {
      return InvalidArgument("ExpressionAttributeValues must not be empty");
    }
    for (const auto& [k, v] : values->members()) {
      if (!ValidAttributeKey(k, ':')) {
        return InvalidArgument(
            "ExpressionAttributeValues contains invalid key: Syntax error; "
            "key: \"" +
            k + "\"");
      }
    }
    for (const auto& [k, v] : values->members()) {
      auto value = AttributeValueFromJson(v);
      if (!value.ok()) {
        return InvalidArgument(
            "ExpressionAttributeValues contains invalid value: " +
            value.status().message() + " for key " + k);
      }
      out.values_.insert_or_assign(k, std::move(value).value());
    }
  }
  return out;
}

const std::string* ExpressionAttributes::Name(std::string_view key) {
  auto it = names_.find(std::string(key));
  if (it == names_.end()) return nullptr;
  used_names_.insert(it->first);
  return &it->second;
}

const AttributeValue* ExpressionAttributes::Value(std::string_view key) {
  auto it = values_.find(std::string(key));
  if (it == values_.end()) return nullptr;
  used_values_.insert(it->first);
  return &it->second;
}

Status ExpressionAttributes::CheckAllUsed() const {
  auto unused = [](const auto& all, const std::set<std::string>& used) {
    std::string keys;
    for (const auto& [k, v] : all) {
      if (used.count(k)) continue;
      if (!keys.empty()) keys += ", ";
      keys += k;
    }
    return keys;
  };
  std::string names = unused(names_, used_names_);
  if (!names.empty()) {
    return InvalidArgument(
        "Value provided in ExpressionAttributeNames unused in expressions: "
        "keys: {" +
        names + "}");
  }
  std::string values = unused(values_, used_values_);
  if (!values.empty()) {
    return InvalidArgument(
        "Value provided in ExpressionAttributeValues unused in expressions: "
        "keys: {" +
        values + "}");
  }
  return Status::Ok();
}

Result<Condition> ParseCondition(std::string_view text, ConditionUse use,
                                 ExpressionAttributes& attributes) {
  Parser parser(text, ConditionName(use), attributes, /*update=*/false);
  RETURN_IF_ERROR(CheckSize(text, parser));
  ASSIGN_OR_RETURN(Expr root, parser.ParseOr(0));
  if (!parser.AtEof()) return parser.SyntaxError();
  ConditionChecker checker(parser, use);
  if (root.kind == Expr::Kind::kCall && root.name == "size") {
    parser.errors().Add(
        Category::kMisusedFunction,
        "The function is not allowed to be used this way in an expression; "
        "function: size");
  }
  ASSIGN_OR_RETURN(Condition condition, checker.ToCondition(root));
  RETURN_IF_ERROR(CheckOperatorCount(parser));
  if (const std::string* e = parser.errors().First(
          {Category::kParens, Category::kUnknownFunction,
           Category::kMisusedFunction, Category::kReserved,
           Category::kAttrNameVal, Category::kOperandCount, Category::kDistinct,
           Category::kFunction, Category::kLimit})) {
    return parser.Fail(*e);
  }
  return condition;
}

Result<std::vector<DocumentPath>> ParseProjection(
    std::string_view text, ExpressionAttributes& attributes) {
  Parser parser(text, "ProjectionExpression", attributes, /*update=*/true);
  RETURN_IF_ERROR(CheckSize(text, parser));
  std::vector<DocumentPath> paths;
  while (true) {
    ASSIGN_OR_RETURN(DocumentPath p, parser.ParsePath());
    paths.push_back(std::move(p));
    if (!parser.AtPunct(",")) break;
    parser.Advance();
  }
  if (!parser.AtEof()) return parser.SyntaxError();
  std::vector<const DocumentPath*> all;
  for (const auto& p : paths) all.push_back(&p);
  CheckPaths(all, parser.errors());
  if (const std::string* e = parser.errors().First(
          {Category::kReserved, Category::kAttrName, Category::kPathOverlap,
           Category::kPathConflict, Category::kLimit})) {
    return parser.Fail(*e);
  }
  return paths;
}

namespace {

class UpdateChecker {
 public:
  explicit UpdateChecker(Parser& parser) : parser_(parser) {}

  Operand ToOperand(const Expr& e) {
    Operand o;
    switch (e.kind) {
      case Expr::Kind::kPath:
        o.kind = Operand::Kind::kPath;
        o.path = e.path;
        break;
      case Expr::Kind::kValue:
        o.kind = Operand::Kind::kValue;
        if (e.value) o.value = *e.value;
        break;
      case Expr::Kind::kPlus:
      case Expr::Kind::kMinus:
        o.kind = e.kind == Expr::Kind::kPlus ? Operand::Kind::kPlus
                                             : Operand::Kind::kMinus;
        for (const Expr& a : e.args) {
          std::string_view t = ImmediateTypeOf(a);
          if (!t.empty() && t != "N") {
            FunctionError(
                "Incorrect operand type for operator or function; operator or "
                "function: " +
                e.name + ", operand type: " + std::string(t));
          }
          o.args.push_back(ToOperand(a));
        }
        break;
      case Expr::Kind::kCall:
        if (e.name == "if_not_exists") {
          o.kind = Operand::Kind::kIfNotExists;
        } else if (e.name == "list_append") {
          o.kind = Operand::Kind::kListAppend;
        } else {
          parser_.errors().Add(Category::kUnknownFunction,
                               "Invalid function name; function: " + e.name);
          break;
        }
        if (e.args.size() != 2) {
          FunctionError(
              "Incorrect number of operands for operator or function; operator "
              "or function: " +
              e.name +
              ", number of operands: " + std::to_string(e.args.size()));
          break;
        }
        if (o.kind == Operand::Kind::kIfNotExists &&
            e.args[0].kind != Expr::Kind::kPath) {
          FunctionError(
              "Operator or function requires a document path; operator or "
              "function: " +
              e.name);
        }
        if (o.kind == Operand::Kind::kListAppend) {
          for (const Expr& a : e.args) {
            std::string_view t = ImmediateTypeOf(a);
            if (!t.empty() && t != "L") {
              FunctionError(
                  "Incorrect operand type for operator or function; operator "
                  "or "
                  "function: list_append, operand type: " +
                  std::string(t));
              break;
            }
          }
        }
        for (const Expr& a : e.args) o.args.push_back(ToOperand(a));
        break;
      default:
        break;
    }
    return o;
  }

  void CheckAddDeleteOperand(std::string_view op, const AttributeValue* v) {
    if (v == nullptr) return;
    static const std::map<AttributeType, std::string_view> kNames = {
        {AttributeType::kS, "STRING"},     {AttributeType::kN, "NUMBER"},
        {AttributeType::kB, "BINARY"},     {AttributeType::kNull, "NULL"},
        {AttributeType::kBool, "BOOLEAN"}, {AttributeType::kL, "LIST"},
        {AttributeType::kM, "MAP"}};
    auto it = kNames.find(v->type());
    if (it == kNames.end()) return;  // sets are fine for both
    if (op == "ADD" && v->type() == AttributeType::kN) return;
    parser_.errors().Add(
        Category::kOperand,
        "Incorrect operand type for operator or function; operator: " +
            std::string(op) + ", operand type: " + std::string(it->second));
  }

 private:
  void FunctionError(std::string message) {
    parser_.errors().Add(Category::kFunction, std::move(message));
  }
  Parser& parser_;
};

}  // namespace

Result<UpdateExpression> ParseUpdate(std::string_view text,
                                     ExpressionAttributes& attributes) {
  Parser parser(text, "UpdateExpression", attributes, /*update=*/true);
  RETURN_IF_ERROR(CheckSize(text, parser));
  UpdateChecker checker(parser);
  UpdateExpression update;
  std::set<std::string> sections;
  if (parser.AtEof()) return parser.SyntaxError();
  while (!parser.AtEof()) {
    const Token& t = parser.Peek();
    UpdateAction::Kind kind;
    std::string section;
    if (KeywordIs(t, "SET")) {
      kind = UpdateAction::Kind::kSet, section = "SET";
    } else if (KeywordIs(t, "REMOVE")) {
      kind = UpdateAction::Kind::kRemove, section = "REMOVE";
    } else if (KeywordIs(t, "ADD")) {
      kind = UpdateAction::Kind::kAdd, section = "ADD";
    } else if (KeywordIs(t, "DELETE")) {
      kind = UpdateAction::Kind::kDelete, section = "DELETE";
    } else {
      return parser.SyntaxError();
    }
    if (!sections.insert(section).second) {
      parser.errors().Add(Category::kSection,
                          "The \"" + section +
                              "\" section can only be used once in an update "
                              "expression;");
    }
    parser.Advance();
    while (true) {
      UpdateAction action;
      action.kind = kind;
      ASSIGN_OR_RETURN(action.path, parser.ParsePath());
      if (kind == UpdateAction::Kind::kSet) {
        RETURN_IF_ERROR(parser.Expect("="));
        ASSIGN_OR_RETURN(Expr value, parser.ParseSetValue(0));
        action.value = checker.ToOperand(value);
      } else if (kind == UpdateAction::Kind::kAdd ||
                 kind == UpdateAction::Kind::kDelete) {
        if (parser.Peek().kind != Token::Kind::kValue)
          return parser.SyntaxError();
        const AttributeValue* v = parser.ResolveValue(parser.Peek().text);
        parser.Advance();
        checker.CheckAddDeleteOperand(section, v);
        action.value.kind = Operand::Kind::kValue;
        if (v) action.value.value = *v;
      }
      update.actions.push_back(std::move(action));
      if (!parser.AtPunct(",")) break;
      parser.Advance();
    }
  }
  RETURN_IF_ERROR(CheckOperatorCount(parser));
  std::vector<const DocumentPath*> paths;
  for (const auto& a : update.actions) paths.push_back(&a.path);
  CheckPaths(paths, parser.errors());
  if (const std::string* e = parser.errors().First(
          {Category::kReserved, Category::kUnknownFunction, Category::kSection,
           Category::kAttrName, Category::kAttrVal, Category::kPathOverlap,
           Category::kPathConflict, Category::kOperand, Category::kFunction,
           Category::kLimit})) {
    return parser.Fail(*e);
  }
  return update;
}

Result<std::vector<KeyCondition>> ExtractKeyConditions(
    const Condition& condition) {
  std::vector<KeyCondition> out;
  // Walk AND nodes; everything else must be a single key condition.
  std::vector<const Condition*> stack = {&condition};
  std::vector<const Condition*> leaves;
  while (!stack.empty()) {
    const Condition* c = stack.back();
    stack.pop_back();
    switch (c->kind) {
      case Condition::Kind::kAnd:
        stack.push_back(&c->children[1]);
        stack.push_back(&c->children[0]);
        break;
      case Condition::Kind::kOr:
        return InvalidArgument(
            "Invalid KeyConditionExpression: Invalid operator used in "
            "KeyConditionExpression: OR");
      case Condition::Kind::kNot:
        return InvalidArgument(
            "Invalid KeyConditionExpression: Invalid operator used in "
            "KeyConditionExpression: NOT");
      case Condition::Kind::kIn:
        return InvalidArgument(
            "Invalid KeyConditionExpression: Invalid operator used in "
            "KeyConditionExpression: IN");
      case Condition::Kind::kAttributeExists:
      case Condition::Kind::kAttributeNotExists:
      case Condition::Kind::kAttributeType:
      case Condition::Kind::kContains: {
        static const std::map<Condition::Kind, std::string_view> kNames = {
            {Condition::Kind::kAttributeExists, "attribute_exists"},
            {Condition::Kind::kAttributeNotExists, "attribute_not_exists"},
            {Condition::Kind::kAttributeType, "attribute_type"},
            {Condition::Kind::kContains, "contains"}};
        return InvalidArgument(
            "Invalid KeyConditionExpression: Invalid operator used in "
            "KeyConditionExpression: " +
            std::string(kNames.at(c->kind)));
      }
      case Condition::Kind::kCompare:
        if (c->op == Comparator::kNe) {
          return InvalidArgument(
              "Invalid KeyConditionExpression: Invalid operator used in "
              "KeyConditionExpression: <>");
        }
        leaves.push_back(c);
        break;
      default:
        leaves.push_back(c);
    }
  }
  for (const Condition* c : leaves) {
    for (const Operand& o : c->operands) {
      if (o.kind == Operand::Kind::kSize) {
        return InvalidArgument(
            "Invalid KeyConditionExpression: KeyConditionExpressions cannot "
            "contain nested "
            "operations");
      }
    }
    const char* name =
        c->kind == Condition::Kind::kBetween ? "BETWEEN" : "begins_with";
    if ((c->kind == Condition::Kind::kBetween ||
         c->kind == Condition::Kind::kBeginsWith) &&
        c->operands[0].kind != Operand::Kind::kPath) {
      return InvalidArgument(
          std::string("Invalid KeyConditionExpression: Invalid condition in "
                      "KeyConditionExpression: ") +
          name + " operator must have the key attribute as its first operand");
    }
    int path_index = -1;
    for (size_t i = 0; i < c->operands.size(); ++i) {
      if (c->operands[i].kind != Operand::Kind::kPath) continue;
      if (path_index >= 0) {
        return InvalidArgument(
            "Invalid KeyConditionExpression: Invalid condition in "
            "KeyConditionExpression: "
            "Multiple attribute names used in one condition");
      }
      if (c->operands[i].path.size() > 1) {
        return InvalidArgument(
            "Invalid KeyConditionExpression: KeyConditionExpressions cannot "
            "have conditions on "
            "nested attributes");
      }
      path_index = static_cast<int>(i);
    }
    if (path_index < 0) {
      return InvalidArgument(
          "Invalid KeyConditionExpression: Invalid condition in "
          "KeyConditionExpression: No key "
          "attribute specified");
    }
    KeyCondition k;
    k.attribute = c->operands[path_index].path[0].name;
    for (const auto& existing : out) {
      if (existing.attribute == k.attribute) {
        return InvalidArgument(
            "Invalid KeyConditionExpression: KeyConditionExpressions must only "
            "contain one "
            "condition per key");
      }
    }
    if (c->kind == Condition::Kind::kBetween) {
      k.op = KeyCondition::Op::kBetween;
    } else if (c->kind == Condition::Kind::kBeginsWith) {
      k.op = KeyCondition::Op::kBeginsWith;
    } else {
      // "a < b" with the key on the right is "b > a".
      bool flip = path_index != 0;
      switch (c->op) {
        case Comparator::kEq:
          k.op = KeyCondition::Op::kEq;
          break;
        case Comparator::kLt:
          k.op = flip ? KeyCondition::Op::kGt : KeyCondition::Op::kLt;
          break;
        case Comparator::kLe:
          k.op = flip ? KeyCondition::Op::kGe : KeyCondition::Op::kLe;
          break;
        case Comparator::kGt:
          k.op = flip ? KeyCondition::Op::kLt : KeyCondition::Op::kGt;
          break;
        case Comparator::kGe:
          k.op = flip ? KeyCondition::Op::kLe : KeyCondition::Op::kGe;
          break;
        case Comparator::kNe:
          break;
      }
    }
    for (size_t i = 0; i < c->operands.size(); ++i) {
      if (static_cast<int>(i) != path_index)
        k.values.push_back(c->operands[i].value);
    }
    out.push_back(std::move(k));
  }
  return out;
}

}  // namespace riffle::tables
